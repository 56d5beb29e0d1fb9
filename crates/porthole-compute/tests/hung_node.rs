//! Issue 11 defect 7: a hung libvirt node (a TCP listener that accepts and never answers, so
//! `virConnectOpen` waits forever) costs only its own instances. The healthy node is libvirt's
//! test driver (no daemon) or, in the tests marked "needs libvirtd", the real `qemu:///system`.

#![allow(clippy::unwrap_used)]

use porthole_compute::libvirt::{LibvirtNode, NodeConfig, MAX_THREADS};
use porthole_compute::{Compute, Endpoint, Error, Inventory as _, LookupError, StaticTargets};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const VM1: &str = "11111111-2222-3333-4444-555555555555";

/// A libvirt server that accepts connections and never says a word; counts the connections.
struct HungNode {
    uri: String,
    accepted: Arc<AtomicUsize>,
}

impl HungNode {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(conn);
            }
        });
        HungNode { uri: format!("qemu+tcp://127.0.0.1:{port}/system"), accepted }
    }

    fn node(&self, limit: Duration) -> NodeConfig {
        NodeConfig { timeout: limit, ..NodeConfig::new("hung", &self.uri) }
    }
}

/// libvirt's test driver with one running domain that has VNC on 127.0.0.1:5907.
fn good_node(dir: &tempfile::TempDir) -> NodeConfig {
    let path = dir.path().join("node.xml");
    let xml = format!(
        "<node><domain type='test'><name>vm1</name><uuid>{VM1}</uuid><memory>65536</memory>\
         <os><type>hvm</type></os><devices><graphics type='vnc' port='5907' autoport='no' listen='127.0.0.1'/></devices>\
         </domain></node>"
    );
    std::fs::write(&path, xml).unwrap();
    NodeConfig::new("good", format!("test://{}", path.display()))
}

/// The hung node first, so that asking nodes one after the other would show.
fn hung_then_good(dir: &tempfile::TempDir) -> Compute {
    Compute::new([HungNode::start().node(Duration::from_secs(10)), good_node(dir)], StaticTargets::default())
}

fn assert_quick(started: Instant) {
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?} while another node hung", started.elapsed());
}

#[tokio::test]
async fn endpoint_check_on_a_good_node_is_not_delayed_by_a_hung_one() {
    let dir = tempfile::tempdir().unwrap();
    let compute = hung_then_good(&dir);
    let uuid = VM1.parse().unwrap();
    let started = Instant::now();
    assert!(compute.endpoint_matches(uuid, &Endpoint::tcp("127.0.0.1", 5907)).await.unwrap());
    assert_quick(started);
    let started = Instant::now();
    assert!(!compute.endpoint_matches(uuid, &Endpoint::tcp("127.0.0.1", 5908)).await.unwrap(), "another port");
    assert_quick(started);
}

#[tokio::test]
async fn uuid_lookup_on_a_good_node_is_not_delayed_by_a_hung_one() {
    let dir = tempfile::tempdir().unwrap();
    let compute = hung_then_good(&dir);
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(compute.find(VM1).await.unwrap().name, "vm1");
        assert_eq!(compute.find_by_uuid(VM1.parse().unwrap()).await.unwrap().node.as_deref(), Some("good"));
        assert_quick(started);
    }
}

#[tokio::test]
async fn an_instance_no_good_node_has_waits_for_the_hung_node_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let hung = HungNode::start();
    let compute = Compute::new([hung.node(Duration::from_millis(500)), good_node(&dir)], StaticTargets::default());
    let started = Instant::now();
    let err = compute.find_by_uuid(Uuid::from_u128(7)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(matches!(err, LookupError::NotFoundSomeUnreachable { .. }), "{err}");
    assert!(err.to_string().contains("node \"hung\"") && err.to_string().contains("no answer within 0.5 s"), "{err}");
    let checked = compute.endpoint_matches(Uuid::from_u128(7), &Endpoint::tcp("127.0.0.1", 5907)).await;
    assert!(checked.is_err(), "cannot tell while the node that may hold it is hung: {checked:?}");
}

#[tokio::test]
async fn each_call_on_a_hung_node_ends_at_its_own_limit() {
    let hung = HungNode::start();
    let node = LibvirtNode::new(hung.node(Duration::from_millis(300)));
    for round in 0..4 {
        let started = Instant::now();
        let err = node.instance(Uuid::from_u128(7)).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        let took = started.elapsed();
        assert!(took < Duration::from_millis(800), "call {round} took {took:?}: it queued behind an earlier one");
    }
}

#[tokio::test]
async fn concurrent_calls_share_one_connection_attempt() {
    let hung = HungNode::start();
    let node = LibvirtNode::new(hung.node(Duration::from_millis(500)));
    let started = Instant::now();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let node = node.clone();
            tokio::spawn(async move { node.instance(Uuid::from_u128(7)).await })
        })
        .collect();
    for call in calls {
        assert!(matches!(call.await.unwrap(), Err(Error::Timeout { .. })));
    }
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(hung.accepted.load(Ordering::SeqCst), 1, "ten callers, one connection attempt");
}

#[tokio::test]
async fn a_hung_node_holds_a_bounded_number_of_threads() {
    let hung = HungNode::start();
    let node = LibvirtNode::new(hung.node(Duration::from_millis(50)));
    let mut last = None;
    for _ in 0..MAX_THREADS + 4 {
        last = Some(node.instance(Uuid::from_u128(7)).await.unwrap_err());
        tokio::time::sleep(Duration::from_millis(5)).await; // the attempt is now older than the limit
    }
    // Each attempt older than the limit is abandoned for a fresh one, until MAX_THREADS wait on
    // the node; then calls fail at once and say why.
    wait_until(|| hung.accepted.load(Ordering::SeqCst) == MAX_THREADS).await;
    let last = last.unwrap().to_string();
    assert!(last.contains(&format!("{MAX_THREADS} calls are still waiting")), "{last}");
    let started = Instant::now();
    assert!(node.instance(Uuid::from_u128(7)).await.is_err());
    assert!(started.elapsed() < Duration::from_millis(20), "took {:?}", started.elapsed());
    assert_eq!(hung.accepted.load(Ordering::SeqCst), MAX_THREADS);
}

/// A real libvirtd (`qemu:///system`) next to a hung node: a domain defined there is found at once.
#[tokio::test]
#[ignore = "needs libvirtd"]
async fn qemu_system_lookup_is_not_delayed_by_a_hung_node() {
    let dom = DefinedDomain::new();
    let hung = HungNode::start();
    let compute = Compute::new([hung.node(Duration::from_secs(10)), NodeConfig::new("local", "qemu:///system")], StaticTargets::default());
    for _ in 0..3 {
        let started = Instant::now();
        let found = compute.find_by_uuid(dom.uuid).await.unwrap();
        assert_eq!((found.name.as_str(), found.node.as_deref()), (dom.name.as_str(), Some("local")));
        assert_quick(started);
    }
}

/// A node whose open connection stops answering (its TCP path went dead, the daemon is fine): the
/// call that times out gives the connection up, and the next call opens a fresh one at once
/// instead of queueing behind the hung call.
#[tokio::test]
#[ignore = "needs libvirtd"]
async fn after_a_timed_out_call_the_next_one_opens_a_fresh_connection() {
    let dom = DefinedDomain::new();
    let proxy = FreezableProxy::start("127.0.0.1:16509").await;
    let limit = Duration::from_secs(2);
    let node = LibvirtNode::new(NodeConfig { timeout: limit, ..NodeConfig::new("flaky", proxy.uri()) });
    assert_eq!(node.instance(dom.uuid).await.unwrap().unwrap().name, dom.name, "libvirtd on qemu+tcp://127.0.0.1:16509");
    proxy.freeze_existing();
    let started = Instant::now();
    assert!(matches!(node.instance(dom.uuid).await, Err(Error::Timeout { .. })));
    assert!(started.elapsed() < limit + Duration::from_millis(500));
    let started = Instant::now();
    assert_eq!(node.instance(dom.uuid).await.unwrap().unwrap().name, dom.name);
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}: queued behind the hung call", started.elapsed());
}

async fn wait_until(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not reached in 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A shut-off domain defined on `qemu:///system` with a unique name, undefined on drop.
struct DefinedDomain {
    name: String,
    uuid: Uuid,
}

impl DefinedDomain {
    fn new() -> Self {
        let name = format!("ph-ct-hung-{}-{}", std::process::id(), Uuid::new_v4().simple());
        let uuid = Uuid::new_v4();
        let xml = format!(
            "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid><memory unit='MiB'>64</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>"
        );
        let conn = virt::connect::Connect::open(Some("qemu:///system")).expect("libvirtd on qemu:///system (scripts/libvirt-up.sh)");
        conn.define_domain_xml(&xml).unwrap();
        DefinedDomain { name, uuid }
    }
}

impl Drop for DefinedDomain {
    fn drop(&mut self) {
        if let Ok(conn) = virt::connect::Connect::open(Some("qemu:///system")) {
            if let Ok(d) = conn.lookup_domain_by_name(&self.name) {
                let _ = d.undefine();
            }
        }
    }
}

/// A TCP forwarder whose existing connections can be frozen (bytes no longer pass either way)
/// while new connections still go through: a dead path under a live daemon.
struct FreezableProxy {
    port: u16,
    generation: Arc<AtomicUsize>,
}

impl FreezableProxy {
    async fn start(upstream: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let generation = Arc::new(AtomicUsize::new(0));
        let current = generation.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = tokio::net::TcpStream::connect(upstream).await.expect("libvirtd listening on 127.0.0.1:16509");
                let born = current.load(Ordering::SeqCst);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, current.clone(), born));
                tokio::spawn(pump(sr, cw, current.clone(), born));
            }
        });
        FreezableProxy { port, generation }
    }

    fn uri(&self) -> String {
        format!("qemu+tcp://127.0.0.1:{}/system", self.port)
    }

    fn freeze_existing(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

async fn pump(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, current: Arc<AtomicUsize>, born: usize) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if current.load(Ordering::SeqCst) != born {
            std::future::pending::<()>().await; // frozen: hold the bytes, keep the socket open
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
