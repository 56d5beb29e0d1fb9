//! One node's libvirt connection, shared by every call without a lock held across libvirt.
//!
//! libvirt's API blocks, and a remote node can stop answering for good (a host that accepts TCP
//! and never replies makes `virConnectOpen` wait forever). So:
//! - each call runs on a thread of its own, not on tokio's blocking pool, so a call libvirt never
//!   returns from cannot hold up the runtime or the process exit;
//! - the caller waits at most the node's limit ([`NodeConfig::timeout`](super::NodeConfig)), counted
//!   from when it asked, for opening the connection and the call together;
//! - the open connection is a reference-counted clone taken out of the lock, so calls run side by
//!   side (libvirt connections are thread-safe) and none waits for another;
//! - one open is in flight at a time; calls wait for it rather than opening their own, and one that
//!   has hung for longer than the limit is abandoned for a fresh attempt;
//! - a connection whose call timed out, or that libvirt reports dead, is dropped: the next call
//!   opens a fresh one instead of queueing behind it;
//! - at most [`MAX_THREADS`] threads per node wait on libvirt, counting those whose caller gave up,
//!   so a hung node holds a bounded number of threads.

use crate::{Error, Result};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use virt::connect::Connect;

/// Threads per node that may wait on libvirt at once, including calls whose caller timed out.
pub const MAX_THREADS: usize = 16;

/// An error inside a blocking libvirt call.
pub(crate) enum CallError {
    /// libvirt said no.
    Virt(virt::error::Error),
    /// Something else, already worded.
    Other(Error),
}

impl From<virt::error::Error> for CallError {
    fn from(e: virt::error::Error) -> Self {
        CallError::Virt(e)
    }
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::Other(e)
    }
}

/// The node's connection state and the threads it may use.
pub(crate) struct Link {
    uri: String,
    limit: Duration,
    state: Mutex<State>,
    /// One permit per thread waiting on libvirt; a thread keeps its permit until libvirt returns,
    /// even when its caller has given up, so a hung node cannot grow threads without bound.
    threads: Arc<Semaphore>,
}

#[derive(Default)]
struct State {
    /// The open connection; callers clone it out of the lock.
    conn: Option<Conn>,
    /// The open in flight, if any.
    opening: Option<Opening>,
    /// Tells an open's result apart from a later, replacing one.
    next_open: u64,
}

/// An open in flight: its result is published on `done`.
struct Opening {
    id: u64,
    started: Instant,
    done: watch::Receiver<Option<Result<Conn>>>,
}

/// A shared connection.
type Conn = Arc<Closing>;

/// A connection closed on a thread of its own when the last user drops it: closing a remote
/// connection waits for the node's answer, which a hung node never gives.
pub(crate) struct Closing(Option<Connect>);

impl Closing {
    fn get(&self) -> Option<&Connect> {
        self.0.as_ref()
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            let _ = std::thread::Builder::new().name("libvirt-close".into()).spawn(move || drop(conn));
        }
    }
}

impl Link {
    /// A link to `uri`, nothing opened yet; each call waits at most `limit`.
    pub(crate) fn new(uri: String, limit: Duration) -> Self {
        Link { uri, limit, state: Mutex::default(), threads: Arc::new(Semaphore::new(MAX_THREADS)) }
    }

    /// Runs `f` with the node's connection on a thread of its own, within the node's limit.
    pub(crate) async fn call<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connect) -> Result<T, CallError> + Send + 'static,
    ) -> Result<T> {
        let deadline = Instant::now() + self.limit;
        let conn = match tokio::time::timeout_at(deadline, self.connection()).await {
            Ok(conn) => conn?,
            Err(_) => return Err(self.timeout()),
        };
        let used = conn.clone();
        let uri = self.uri.clone();
        let run = move || {
            let Some(c) = used.get() else { return (Err(Error::Libvirt { uri, message: "not connected".into() }), true) };
            match f(c) {
                Ok(v) => (Ok(v), false),
                Err(CallError::Other(e)) => (Err(e), false),
                Err(CallError::Virt(e)) => (Err(libvirt_error(&uri, &e)), !c.is_alive().unwrap_or(false)),
            }
        };
        match tokio::time::timeout_at(deadline, self.on_thread(run)).await {
            Ok(Ok((result, dead))) => {
                if dead {
                    self.forget(&conn);
                }
                result
            }
            Ok(Err(e)) => Err(e),
            Err(_) => {
                self.forget(&conn);
                Err(self.timeout())
            }
        }
    }

    /// The open connection, or the result of the open in flight (started here if none is).
    async fn connection(self: &Arc<Self>) -> Result<Conn> {
        let mut done = {
            let mut st = self.lock();
            if let Some(c) = &st.conn {
                return Ok(c.clone());
            }
            match &st.opening {
                Some(o) if o.started.elapsed() < self.limit => o.done.clone(),
                _ => self.start_open(&mut st)?,
            }
        };
        let published = done.wait_for(Option::is_some).await.map_err(|_| self.gone())?;
        published.clone().unwrap_or_else(|| Err(self.gone()))
    }

    /// Starts opening on a thread; the thread keeps the result for later calls.
    fn start_open(self: &Arc<Self>, st: &mut State) -> Result<watch::Receiver<Option<Result<Conn>>>> {
        let permit = self.threads.clone().try_acquire_owned().map_err(|_| self.stuck())?;
        let (tx, rx) = watch::channel(None);
        let id = st.next_open;
        st.next_open += 1;
        st.opening = Some(Opening { id, started: Instant::now(), done: rx.clone() });
        let link = self.clone();
        let open = move || {
            let result = Connect::open(Some(&link.uri)).map(|c| Arc::new(Closing(Some(c)))).map_err(|e| libvirt_error(&link.uri, &e));
            let mut st = link.lock();
            if st.opening.as_ref().is_some_and(|o| o.id == id) {
                st.opening = None;
            }
            if let (Ok(c), None) = (&result, &st.conn) {
                st.conn = Some(c.clone());
            }
            drop(st);
            let _ = tx.send(Some(result));
            drop(permit);
        };
        std::thread::Builder::new().name("libvirt-open".into()).spawn(open).map_err(|e| self.no_thread(&e))?;
        Ok(rx)
    }

    /// Runs `f` on a new thread holding one of the node's permits; waits for a permit first.
    async fn on_thread<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit: OwnedSemaphorePermit = self.threads.clone().acquire_owned().await.map_err(|_| self.gone())?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let run = move || {
            let _ = tx.send(f());
            drop(permit);
        };
        std::thread::Builder::new().name("libvirt-call".into()).spawn(run).map_err(|e| self.no_thread(&e))?;
        rx.await.map_err(|_| Error::Libvirt { uri: self.uri.clone(), message: "the libvirt call panicked".into() })
    }

    /// Drops `conn` if it is still the node's connection, so the next call opens a fresh one.
    fn forget(&self, conn: &Conn) {
        let stale = {
            let mut st = self.lock();
            match &st.conn {
                Some(c) if Arc::ptr_eq(c, conn) => st.conn.take(),
                _ => None,
            }
        };
        drop(stale);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn timeout(&self) -> Error {
        Error::Timeout { uri: self.uri.clone(), secs: self.limit.as_secs_f64() }
    }

    fn stuck(&self) -> Error {
        let message = format!("{MAX_THREADS} calls are still waiting for the node to answer");
        Error::Libvirt { uri: self.uri.clone(), message }
    }

    fn gone(&self) -> Error {
        Error::Libvirt { uri: self.uri.clone(), message: "the connection attempt was abandoned".into() }
    }

    fn no_thread(&self, e: &std::io::Error) -> Error {
        Error::Libvirt { uri: self.uri.clone(), message: format!("cannot start a thread: {e}") }
    }
}

/// libvirt's message, with the node's URI.
pub(crate) fn libvirt_error(uri: &str, e: &virt::error::Error) -> Error {
    Error::Libvirt { uri: uri.to_owned(), message: e.message().to_owned() }
}
