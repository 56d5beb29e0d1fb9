//! [`ConsoleStream`]: a guest's serial console opened through libvirt (`virDomainOpenConsole` on a
//! non-blocking `virStream`), as one tokio `AsyncRead + AsyncWrite` with bounded buffers both ways.
//!
//! - Reading. libvirt's client library reads its socket on the event loop thread and queues stream
//!   data without limit, whether anyone reads or not (`virnetclientstream.c` says so: "this buffer
//!   is unbounded"). So the stream's event callback, on that thread, drains libvirt's queue at once
//!   into a buffer of at most [`READ_BUFFER`] bytes. When the reader is slower than the guest and
//!   that buffer is full, further output is dropped and counted ([`ConsoleStream::dropped`]), as a
//!   UART drops characters on overrun: a guest that floods its console cannot grow memory.
//! - Writing. `virStreamSend` on a libvirt connection blocks until the bytes are on the socket,
//!   and libvirtd stops reading a client whose stream packets wait for a guest that does not read
//!   its serial port. One chunk of at most [`WRITE_CHUNK`] bytes is in flight at a time, on tokio's
//!   blocking pool; `poll_write` waits for it, so a slow guest blocks the writer.
//!
//! The `virt` crate (0.5) wraps the stream calls safely except event callbacks: its
//! `Stream::event_add_callback` hands libvirt a pointer to the `Stream` value itself, which
//! dangles once that value moves. Registering the callback is therefore done here with the C API,
//! with a reference-counted [`Shared`] as the callback's data.

#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::ffi::{c_int, c_void};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;
use virt::connect::Connect;
use virt::stream::Stream;
use virt::sys;

/// Guest output held for a reader that is behind; more is dropped (and counted) until it reads.
pub const READ_BUFFER: usize = 256 * 1024;
/// The most one `poll_write` accepts: the bytes in flight toward libvirtd at any time.
pub const WRITE_CHUNK: usize = 16 * 1024;

/// Why a console stream ended, other than the guest side hanging up (which reads as EOF).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Another session opened the same console with force (a second Porthole session in this
    /// process); libvirt ended this one.
    #[error("serial console taken over by another session")]
    TakenOver,
    /// libvirt ended the stream with an error (the console was opened elsewhere with force, e.g.
    /// `virsh console --force` or another Porthole process, or libvirtd went away).
    #[error("libvirt console stream: {0}")]
    Libvirt(String),
}

impl ConsoleError {
    /// The [`ConsoleError`] inside an I/O error from a [`ConsoleStream`], if it is one.
    pub fn from_io(e: &io::Error) -> Option<&ConsoleError> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<ConsoleError>())
    }
}

/// How the guest side ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum End {
    Eof,
    Failed(String),
}

/// What the event callback and the reader share.
struct ReadState {
    buf: VecDeque<u8>,
    end: Option<End>,
    waker: Option<Waker>,
    dropped: u64,
}

/// Shared between the [`ConsoleStream`] and the C callback on libvirt's event loop thread.
pub(crate) struct Shared {
    /// The stream, for `virStreamRecv` in the callback (a reference libvirt counts).
    stream: Stream,
    /// Guest output not read yet, how the stream ended, and who to wake.
    read: Mutex<ReadState>,
    /// Set before a second session of this process opens the same console with force, so this
    /// session can say why it ended.
    taken_over: AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReadState> {
        self.read.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks this session as replaced by a newer one (see [`super::open`]).
    pub(crate) fn set_taken_over(&self, yes: bool) {
        self.taken_over.store(yes, Ordering::SeqCst);
    }

    /// Moves everything libvirt has queued into the bounded buffer (the callback's work).
    fn drain(&self, events: sys::virStreamEventType) {
        let mut scratch = [0u8; 16 * 1024];
        let end = loop {
            match self.stream.recv(&mut scratch) {
                Ok(n) if n > 0 => self.push(&scratch[..n.unsigned_abs()]),
                Ok(0) => break Some(End::Eof),
                Ok(_) => break None, // -2: nothing more queued right now
                Err(e) => break Some(End::Failed(e.message().to_owned())),
            }
        };
        // Remote streams report an end as readable (then recv says how); local ones may not.
        let end = end.or_else(|| match events {
            e if e & sys::VIR_STREAM_EVENT_ERROR != 0 => Some(End::Failed("stream error".to_owned())),
            e if e & sys::VIR_STREAM_EVENT_HANGUP != 0 => Some(End::Eof),
            _ => None,
        });
        if let Some(end) = end {
            // libvirt keeps reporting an ended stream readable; stop its timer.
            let _ = self.stream.event_update_callback(0);
            self.lock().end.get_or_insert(end);
        }
        if let Some(w) = self.lock().waker.take() {
            w.wake();
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut st = self.lock();
        let room = READ_BUFFER.saturating_sub(st.buf.len());
        let keep = bytes.len().min(room);
        st.buf.extend(&bytes[..keep]);
        if keep < bytes.len() {
            if st.dropped == 0 {
                tracing::warn!(limit = READ_BUFFER, "serial console reader is behind; dropping guest output");
            }
            st.dropped += (bytes.len() - keep) as u64;
        }
    }
}

/// The libvirt side of a session: the stream (with its callback) and its own connection.
struct Libvirt {
    /// `None` once aborted.
    stream: Option<Stream>,
    /// A connection for this session alone: a guest that stops reading its serial port blocks
    /// libvirtd's reading of this connection, and must not block the node's other calls.
    _conn: Connect,
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        let Some(stream) = self.stream.take() else { return };
        // SAFETY: the stream is valid (we hold a reference) and has the callback registered in
        // `ConsoleStream::new`; removing it makes libvirt call `release` once, now or after a
        // dispatch in progress.
        unsafe { sys::virStreamEventRemoveCallback(stream.as_ptr()) };
        // Tells libvirtd to close its end (the pty stays with QEMU); an error means it is gone.
        let _ = stream.abort();
    }
}

/// A guest's serial console, opened through libvirt. Reads return guest output (EOF when the
/// guest side hangs up, e.g. the domain stops); an error whose [`ConsoleError::from_io`] is
/// [`ConsoleError::TakenOver`] when another session took the console over.
pub struct ConsoleStream {
    shared: Arc<Shared>,
    /// `None` only while dropping.
    libvirt: Option<Arc<Libvirt>>,
    runtime: tokio::runtime::Handle,
    /// The chunk being sent, if any.
    writing: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for ConsoleStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleStream").field("writing", &self.writing.is_some()).finish_non_exhaustive()
    }
}

impl ConsoleStream {
    /// Wraps a stream that `virDomainOpenConsole` just connected (non-blocking, on `conn`).
    pub(crate) fn new(conn: Connect, stream: Stream, runtime: tokio::runtime::Handle) -> io::Result<Self> {
        let read = Mutex::new(ReadState { buf: VecDeque::new(), end: None, waker: None, dropped: 0 });
        let shared = Arc::new(Shared { stream: stream.clone(), read, taken_over: AtomicBool::new(false) });
        let opaque = Arc::into_raw(shared.clone()) as *mut c_void;
        let events = (sys::VIR_STREAM_EVENT_READABLE | sys::VIR_STREAM_EVENT_ERROR | sys::VIR_STREAM_EVENT_HANGUP) as c_int;
        // SAFETY: the stream is valid; `opaque` is an `Arc<Shared>` that libvirt hands back to
        // `on_event` and gives to `release` exactly once when the callback is removed.
        let added = unsafe { sys::virStreamEventAddCallback(stream.as_ptr(), events, Some(on_event), opaque, Some(release)) };
        if added < 0 {
            // SAFETY: registration failed, so libvirt did not take `opaque`; take it back.
            drop(unsafe { Arc::from_raw(opaque as *const Shared) });
            let e = virt::error::Error::last_error();
            let _ = stream.abort();
            return Err(io::Error::other(format!("libvirt console stream: {}", e.message())));
        }
        let libvirt = Some(Arc::new(Libvirt { stream: Some(stream), _conn: conn }));
        Ok(ConsoleStream { shared, libvirt, runtime, writing: None })
    }

    /// What the open call needs to mark this session as taken over.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Guest output dropped so far because the reader was behind by more than [`READ_BUFFER`].
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }

    /// Guest output buffered and not read yet.
    pub fn buffered(&self) -> usize {
        self.shared.lock().buf.len()
    }

    fn ended_error(&self, end: &End) -> Option<io::Error> {
        if self.shared.taken_over.load(Ordering::SeqCst) {
            return Some(io::Error::other(ConsoleError::TakenOver));
        }
        match end {
            End::Eof => None,
            End::Failed(m) => Some(io::Error::other(ConsoleError::Libvirt(m.clone()))),
        }
    }
}

impl AsyncRead for ConsoleStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut st = this.shared.lock();
        if !st.buf.is_empty() {
            let (a, b) = st.buf.as_slices();
            let n = a.len().min(out.remaining());
            out.put_slice(&a[..n]);
            let m = b.len().min(out.remaining());
            out.put_slice(&b[..m]);
            st.buf.drain(..n + m);
            if st.buf.is_empty() && st.buf.capacity() > 64 * 1024 {
                st.buf.shrink_to(16 * 1024); // an idle session keeps little
            }
            return Poll::Ready(Ok(()));
        }
        match st.end.clone() {
            Some(end) => {
                drop(st);
                Poll::Ready(this.ended_error(&end).map_or(Ok(()), Err))
            }
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl ConsoleStream {
    /// Waits for the chunk in flight, if any, and reports how its sending went.
    fn poll_in_flight(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(task) = self.writing.as_mut() else { return Poll::Ready(Ok(())) };
        let joined = ready!(Pin::new(task).poll(cx));
        self.writing = None;
        Poll::Ready(joined.unwrap_or_else(|e| Err(io::Error::other(e))))
    }
}

impl AsyncWrite for ConsoleStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_in_flight(cx))?;
        if let Some(end) = this.shared.lock().end.clone() {
            return Poll::Ready(Err(this.ended_error(&end).unwrap_or_else(|| io::ErrorKind::BrokenPipe.into())));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(libvirt) = this.libvirt.clone() else { return Poll::Ready(Err(io::ErrorKind::NotConnected.into())) };
        let chunk = buf[..buf.len().min(WRITE_CHUNK)].to_vec();
        let n = chunk.len();
        this.writing = Some(this.runtime.spawn_blocking(move || match &libvirt.stream {
            Some(stream) => send_all(stream, &chunk),
            None => Err(io::ErrorKind::NotConnected.into()),
        }));
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_in_flight(cx)
    }

    /// Waits for what was written; the console itself stays open until the stream is dropped
    /// (a serial line has no half-close).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_in_flight(cx)
    }
}

/// Sends all of `data`, blocking (on a blocking-pool thread) while libvirtd does not take more.
fn send_all(stream: &Stream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        match stream.send(data) {
            Ok(n) if n > 0 => data = &data[n.unsigned_abs().min(data.len())..],
            // -2 (a driver that does not block): try again shortly.
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(e) => return Err(io::Error::other(ConsoleError::Libvirt(e.message().to_owned()))),
        }
    }
    Ok(())
}

impl Drop for ConsoleStream {
    fn drop(&mut self) {
        // Aborting the stream is a call to libvirtd that waits for its answer, which can take as
        // long as a chunk in flight toward a guest that does not read: never on this thread.
        if let Some(libvirt) = self.libvirt.take() {
            drop(self.runtime.spawn_blocking(move || drop(libvirt)));
        }
    }
}

/// libvirt's stream event callback, on its event loop thread.
unsafe extern "C" fn on_event(_st: sys::virStreamPtr, events: c_int, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Arc<Shared>` registered in `ConsoleStream::new`; libvirt keeps it
    // until it calls `release`, which it never does while this callback runs.
    let shared = unsafe { &*(opaque as *const Shared) };
    shared.drain(events as u32);
}

/// Frees the callback's data (libvirt calls it once, when the callback is removed).
unsafe extern "C" fn release(opaque: *mut c_void) {
    // SAFETY: `opaque` came from `Arc::into_raw` in `ConsoleStream::new` and is released only here.
    drop(unsafe { Arc::from_raw(opaque as *const Shared) });
}
