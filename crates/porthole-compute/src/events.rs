//! Domain lifecycle events from libvirt: when a domain stops, crashes or is undefined, its console
//! tokens must be revoked and its live sessions closed.
//!
//! Each node gets a watcher thread with its own connection and a `VIR_DOMAIN_EVENT_ID_LIFECYCLE`
//! callback, driven by libvirt's default event loop on one more thread. Where registering fails,
//! the watcher falls back to polling the node's running domains every [`POLL_INTERVAL`].

// The `virt` crate has no safe wrapper for virConnectDomainEventRegisterAny: this module calls the
// C API directly. The unsafe blocks are limited to registering, the callback, and freeing its data.
#![allow(unsafe_code)]

use crate::libvirt::NodeConfig;
use std::collections::HashSet;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Once;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;
use virt::connect::Connect;
use virt::sys;

/// How often a watcher checks that its connection is alive, or polls when events are unavailable.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Wait before reconnecting to a node that failed.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(5);

/// A domain that stopped being able to serve a console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainGone {
    /// The node it ran on.
    pub node: String,
    /// The domain.
    pub uuid: Uuid,
    /// `stopped`, `crashed` or `undefined`.
    pub why: &'static str,
}

/// Starts libvirt's default event loop once per process (needed for events and keepalive).
/// Call before opening connections that should deliver events.
pub fn ensure_event_loop() {
    static LOOP: Once = Once::new();
    LOOP.call_once(|| {
        if let Err(e) = virt::event::event_register_default_impl() {
            tracing::warn!(cause = %e.message(), "libvirt event loop unavailable; lifecycle changes will be polled");
            return;
        }
        let spawned = std::thread::Builder::new().name("libvirt-events".into()).spawn(|| loop {
            if virt::event::event_run_default_impl().is_err() {
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(cause = %e, "cannot start the libvirt event thread");
        }
    });
}

/// Watches one node for the rest of the process, sending every domain that goes away.
pub fn spawn_watcher(cfg: NodeConfig, tx: UnboundedSender<DomainGone>) -> std::io::Result<()> {
    ensure_event_loop();
    std::thread::Builder::new().name(format!("libvirt-watch-{}", cfg.name)).spawn(move || watch(&cfg, &tx))?;
    Ok(())
}

fn watch(cfg: &NodeConfig, tx: &UnboundedSender<DomainGone>) {
    let mut reported_down = false;
    while !tx.is_closed() {
        let conn = match Connect::open(Some(&cfg.libvirt_uri)) {
            Ok(c) => c,
            Err(e) => {
                if !reported_down {
                    tracing::warn!(node = %cfg.name, cause = %e.message(), "cannot watch node; retrying");
                    reported_down = true;
                }
                std::thread::sleep(RECONNECT_DELAY);
                continue;
            }
        };
        reported_down = false;
        match register(&conn, cfg, tx) {
            Ok(id) => {
                tracing::info!(node = %cfg.name, "watching domain lifecycle events");
                while !tx.is_closed() && conn.is_alive().unwrap_or(false) {
                    std::thread::sleep(POLL_INTERVAL);
                }
                // SAFETY: `conn` is open and `id` came from registering on it.
                unsafe { sys::virConnectDomainEventDeregisterAny(conn.as_ptr(), id) };
                tracing::warn!(node = %cfg.name, "lost the node's event connection; reconnecting");
            }
            Err(()) => {
                tracing::warn!(node = %cfg.name, "lifecycle events unavailable; polling every {POLL_INTERVAL:?}");
                poll(&conn, cfg, tx);
            }
        }
        std::thread::sleep(RECONNECT_DELAY);
    }
}

/// The fallback: compare the set of running domains every interval.
fn poll(conn: &Connect, cfg: &NodeConfig, tx: &UnboundedSender<DomainGone>) {
    const ACTIVE: u32 = 1; // VIR_CONNECT_LIST_DOMAINS_ACTIVE
    let running = |c: &Connect| -> Option<HashSet<Uuid>> {
        let list = c.list_all_domains(ACTIVE).ok()?;
        Some(list.iter().filter_map(|d| d.uuid().ok()).collect())
    };
    let Some(mut before) = running(conn) else { return };
    while !tx.is_closed() {
        std::thread::sleep(POLL_INTERVAL);
        let Some(now) = running(conn) else { return };
        for uuid in before.difference(&now) {
            let _ = tx.send(DomainGone { node: cfg.name.clone(), uuid: *uuid, why: "stopped" });
        }
        before = now;
    }
}

/// What the C callback gets as `opaque`.
struct CallbackData {
    node: String,
    tx: UnboundedSender<DomainGone>,
}

fn register(conn: &Connect, cfg: &NodeConfig, tx: &UnboundedSender<DomainGone>) -> Result<c_int, ()> {
    let data = Box::into_raw(Box::new(CallbackData { node: cfg.name.clone(), tx: tx.clone() }));
    type Lifecycle = unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, c_int, c_int, *mut c_void);
    type Generic = unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void);
    // SAFETY: libvirt calls a LIFECYCLE callback with the lifecycle signature; the generic type is
    // only how the registration function is declared (as in libvirt's VIR_DOMAIN_EVENT_CALLBACK).
    let cb = unsafe { std::mem::transmute::<Lifecycle, Generic>(on_lifecycle) };
    // SAFETY: `conn` is open; `data` stays valid until libvirt calls `free_data` exactly once.
    let id = unsafe {
        sys::virConnectDomainEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
            Some(cb),
            data.cast(),
            Some(free_data),
        )
    };
    if id < 0 {
        // SAFETY: registration failed, so libvirt did not take ownership of `data`.
        drop(unsafe { Box::from_raw(data) });
        return Err(());
    }
    Ok(id)
}

unsafe extern "C" fn on_lifecycle(_: sys::virConnectPtr, dom: sys::virDomainPtr, event: c_int, _: c_int, opaque: *mut c_void) {
    let why = match event as u32 {
        sys::VIR_DOMAIN_EVENT_STOPPED => "stopped",
        sys::VIR_DOMAIN_EVENT_CRASHED => "crashed",
        sys::VIR_DOMAIN_EVENT_UNDEFINED => "undefined",
        _ => return,
    };
    let mut buf = [0 as c_char; sys::VIR_UUID_STRING_BUFLEN as usize];
    // SAFETY: `dom` is valid for the duration of the callback; the buffer has libvirt's size.
    if unsafe { sys::virDomainGetUUIDString(dom, buf.as_mut_ptr()) } != 0 {
        return;
    }
    // SAFETY: libvirt wrote a NUL-terminated string into `buf`.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    let Some(uuid) = text.to_str().ok().and_then(|s| Uuid::parse_str(s).ok()) else { return };
    // SAFETY: `opaque` is the CallbackData registered with this callback, alive until freed.
    let data = unsafe { &*(opaque as *const CallbackData) };
    let _ = data.tx.send(DomainGone { node: data.node.clone(), uuid, why });
}

unsafe extern "C" fn free_data(opaque: *mut c_void) {
    // SAFETY: called once by libvirt with the pointer made by Box::into_raw in `register`.
    drop(unsafe { Box::from_raw(opaque as *mut CallbackData) });
}
