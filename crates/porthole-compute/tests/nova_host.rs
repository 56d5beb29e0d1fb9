//! Nova's `validate_console_port` answered from libvirt: a Nova token names a host (Nova's
//! `server_proxyclient_address`) and a port; the node that host names must run the instance with
//! its VNC server on that port. The nodes are libvirt's test driver (no daemon) and a node that
//! accepts connections and never answers.

#![allow(clippy::unwrap_used)]

use porthole_compute::libvirt::NodeConfig;
use porthole_compute::{Compute, HostPort, Inventory as _, LookupError, StaticTargets};
use std::time::{Duration, Instant};
use uuid::Uuid;

const VM1: &str = "11111111-2222-3333-4444-555555555555";
const VM2: &str = "11111111-2222-3333-4444-666666666666";

/// libvirt's test driver: vm1 running with VNC on 5907, vm2 shut off (its port not allocated).
fn node(dir: &tempfile::TempDir, name: &str, proxyclient_address: &str) -> NodeConfig {
    let path = dir.path().join(format!("{name}.xml"));
    let xml = format!(
        "<node><domain type='test'><name>vm1</name><uuid>{VM1}</uuid><memory>65536</memory>\
         <os><type>hvm</type></os><devices><graphics type='vnc' port='5907' autoport='no' listen='127.0.0.1'/></devices>\
         </domain></node>"
    );
    std::fs::write(&path, xml).unwrap();
    NodeConfig { proxyclient_address: proxyclient_address.into(), ..NodeConfig::new(name, format!("test://{}", path.display())) }
}

/// A libvirt server that accepts connections and never answers.
fn hung(name: &str, proxyclient_address: &str) -> NodeConfig {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    NodeConfig {
        proxyclient_address: proxyclient_address.into(),
        timeout: Duration::from_secs(1),
        ..NodeConfig::new(name, format!("qemu+tcp://127.0.0.1:{port}/system"))
    }
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

#[tokio::test]
async fn the_node_the_token_names_re_checks_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let compute = Compute::new([node(&dir, "kvm1", "127.0.0.11")], StaticTargets::default());
    let check = |host: &'static str, port| {
        let compute = compute.clone();
        async move { compute.console_port_on_host(uuid(VM1), host, port).await.unwrap() }
    };
    let HostPort::Matches(vm1) = check("127.0.0.11", 5907).await else { panic!("by proxyclient_address") };
    assert_eq!((vm1.name.as_str(), vm1.node.as_deref()), ("vm1", Some("kvm1")));
    assert!(matches!(check("KVM1", 5907).await, HostPort::Matches(_)), "by node name, any case");
    assert_eq!(check("127.0.0.11", 5908).await, HostPort::Moved, "the port now belongs to another domain");
    assert_eq!(check("127.0.0.21", 5907).await, HostPort::NoNode, "no node is that host");
    let other = compute.console_port_on_host(uuid(VM2), "127.0.0.11", 5907).await.unwrap();
    assert_eq!(other, HostPort::Moved, "an instance the node does not have");
}

#[tokio::test]
async fn an_instance_on_another_node_than_the_token_says_is_moved() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.xml");
    std::fs::write(&empty, "<node></node>").unwrap();
    let kvm2 = NodeConfig { proxyclient_address: "127.0.0.12".into(), ..NodeConfig::new("kvm2", format!("test://{}", empty.display())) };
    let compute = Compute::new([node(&dir, "kvm1", "127.0.0.11"), kvm2], StaticTargets::default());
    // vm1 runs on kvm1; a token that says kvm2 (say, minted before a migration) does not open it.
    assert_eq!(compute.console_port_on_host(uuid(VM1), "127.0.0.12", 5907).await.unwrap(), HostPort::Moved);
}

#[tokio::test]
async fn a_node_that_does_not_answer_is_an_error_not_a_match() {
    let dir = tempfile::tempdir().unwrap();
    let compute = Compute::new([hung("kvm3", "127.0.0.13"), node(&dir, "kvm1", "127.0.0.11")], StaticTargets::default());
    let started = Instant::now();
    let err = compute.console_port_on_host(uuid(VM1), "127.0.0.13", 5907).await.unwrap_err();
    assert!(matches!(err, LookupError::NotFoundSomeUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("kvm3"), "{err}");
    // The healthy node is not held up by the hung one.
    let quick = Instant::now();
    assert!(matches!(compute.console_port_on_host(uuid(VM1), "127.0.0.11", 5907).await.unwrap(), HostPort::Matches(_)));
    assert!(quick.elapsed() < Duration::from_millis(900), "{:?}", quick.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn hosts_compare_without_case_or_brackets() {
    let n = NodeConfig { proxyclient_address: "2001:DB8::7".into(), ..NodeConfig::new("kvm1", "qemu:///system") };
    assert!(n.is_host("[2001:db8::7]") && n.is_host("2001:db8::7") && n.is_host("kvm1"));
    assert!(!n.is_host("2001:db8::8") && !n.is_host("") && !n.is_host("kvm"));
}
