//! Serial consoles: which console device a domain has ([`device`]), and a stream to it through
//! libvirt ([`ConsoleStream`], `virDomainOpenConsole`): no TCP port on the node, the libvirt
//! connection carries the bytes.
//!
//! One writer at a time: libvirt allows one stream per console device. Porthole opens with
//! `VIR_DOMAIN_CONSOLE_FORCE`, as `virsh console --force` does: a new session takes the console
//! over and libvirt ends the previous one, which reads [`ConsoleError::TakenOver`]: known for
//! sure when the newer session is in this process, inferred (libvirt says "stream had I/O
//! failure" while the domain still runs) when it is elsewhere (`virsh console --force`, another
//! Porthole process).

mod callback;
pub mod device;
mod stream;

pub use device::{parse_serial_console, ConsoleTarget, SerialConsole, SerialSource};
pub use stream::{ConsoleError, ConsoleStream, READ_BUFFER, WRITE_CHUNK};

use crate::{Error, Result};
use callback::Shared;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use uuid::Uuid;
use virt::connect::Connect;
use virt::stream::Stream;

/// `VIR_DOMAIN_CONSOLE_FORCE`: end any other session on the device and take it over.
const CONSOLE_FORCE: u32 = virt::sys::VIR_DOMAIN_CONSOLE_FORCE;

/// The sessions this process holds, per (libvirt URI, domain, device), to tell one it was taken over.
type Holders = Mutex<HashMap<(String, Uuid, Option<String>), Weak<Shared>>>;

fn holders() -> &'static Holders {
    static HOLDERS: std::sync::OnceLock<Holders> = std::sync::OnceLock::new();
    HOLDERS.get_or_init(Default::default)
}

/// Opens the serial console of domain `uuid` on the libvirt node at `uri`, taking it over from
/// any other session. `device` is a console alias (`serial0`, `console1`); `None` opens the one
/// `virsh console` opens. The session gets a libvirt connection of its own. Fails after `limit`.
pub async fn open_console(uri: &str, uuid: Uuid, device: Option<String>, limit: Duration) -> Result<ConsoleStream> {
    let runtime = tokio::runtime::Handle::current();
    let owned_uri = uri.to_owned();
    let task = tokio::task::spawn_blocking(move || open_blocking(&owned_uri, uuid, device, runtime));
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(Error::Libvirt { uri: uri.to_owned(), message: join.to_string() }),
        Err(_) => Err(Error::Timeout { uri: uri.to_owned(), secs: limit.as_secs_f64() }),
    }
}

fn open_blocking(uri: &str, uuid: Uuid, device: Option<String>, runtime: tokio::runtime::Handle) -> Result<ConsoleStream> {
    let err = |e: virt::error::Error| Error::Libvirt { uri: uri.to_owned(), message: e.message().to_owned() };
    // Stream data and its callbacks travel on libvirt's event loop: it must run before the
    // connection opens.
    crate::events::ensure_event_loop();
    crate::libvirt::quiet_errors();
    let conn = Connect::open(Some(uri)).map_err(err)?;
    let dom = conn.lookup_domain_by_uuid_string(&uuid.to_string()).map_err(err)?;
    let stream = Stream::new(&conn, virt::sys::VIR_STREAM_NONBLOCK).map_err(err)?;
    let key = (uri.to_owned(), uuid, device.clone());
    let previous = holders().lock().unwrap_or_else(PoisonError::into_inner).get(&key).and_then(Weak::upgrade);
    if let Some(p) = &previous {
        p.set_taken_over(true);
    }
    if let Err(e) = dom.open_console(device.as_deref(), &stream, CONSOLE_FORCE) {
        if let Some(p) = &previous {
            p.set_taken_over(false);
        }
        return Err(err(e));
    }
    drop(dom);
    let console = ConsoleStream::new(conn, stream, uuid, runtime).map_err(|message| Error::Libvirt { uri: uri.to_owned(), message })?;
    let mut map = holders().lock().unwrap_or_else(PoisonError::into_inner);
    map.retain(|_, w| w.strong_count() > 0);
    map.insert(key, Arc::downgrade(console.shared()));
    Ok(console)
}
