//! The libvirt side of a console session: the stream and its own connection ([`Libvirt`]), and
//! the stream event callback on libvirt's event loop thread, which drains the guest's output into
//! the session's bounded buffer ([`Shared`]).
//!
//! The `virt` crate (0.5) wraps the stream calls safely except event callbacks: its
//! `Stream::event_add_callback` hands libvirt a pointer to the `Stream` value itself, which
//! dangles once that value moves. So the callback is registered here with the C API; its data is
//! an `Arc<Shared>` that holds no libvirt object, so that whichever thread drops it last (the event
//! loop thread included) never ends up closing a connection, which is a call to libvirtd.

// The unsafe blocks: registering and removing the callback, the callback reading the stream
// libvirt hands it, and freeing the callback's data.
#![allow(unsafe_code)]

use super::stream::READ_BUFFER;
use std::collections::VecDeque;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Waker;
use uuid::Uuid;
use virt::connect::Connect;
use virt::stream::Stream;
use virt::sys;

/// The stream, with the callback registered, and the connection it was opened on.
pub(super) struct Libvirt {
    /// `None` once aborted.
    pub(super) stream: Option<Stream>,
    /// A connection for this session alone: a guest that stops reading its serial port makes
    /// libvirtd stop reading this connection, which must not block the node's other calls.
    pub(super) conn: Connect,
    /// The callback is registered (and must be removed).
    registered: AtomicBool,
}

impl Libvirt {
    pub(super) fn new(conn: Connect, stream: Stream) -> Self {
        Libvirt { stream: Some(stream), conn, registered: AtomicBool::new(false) }
    }

    /// Registers [`on_event`] with `shared` as its data, for readable, error and hang-up events.
    pub(super) fn watch(&self, shared: &Arc<Shared>) -> Result<(), String> {
        let Some(stream) = &self.stream else { return Err("stream already closed".into()) };
        let opaque = Arc::into_raw(shared.clone()) as *mut c_void;
        let events = (sys::VIR_STREAM_EVENT_READABLE | sys::VIR_STREAM_EVENT_ERROR | sys::VIR_STREAM_EVENT_HANGUP) as c_int;
        // SAFETY: the stream is valid (we hold a reference); libvirt hands `opaque`, an
        // `Arc<Shared>`, to `on_event` and gives it to `release` exactly once when the callback
        // is removed.
        let added = unsafe { sys::virStreamEventAddCallback(stream.as_ptr(), events, Some(on_event), opaque, Some(release)) };
        if added < 0 {
            // SAFETY: registration failed, so libvirt did not take `opaque`; take it back.
            drop(unsafe { Arc::from_raw(opaque as *const Shared) });
            return Err(virt::error::Error::last_error().message().to_owned());
        }
        self.registered.store(true, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for Libvirt {
    /// Calls libvirtd (abort, then closing the connection): callers drop it on a blocking thread.
    fn drop(&mut self) {
        let Some(stream) = self.stream.take() else { return };
        if self.registered.load(Ordering::SeqCst) {
            // SAFETY: the stream is valid and has our callback; removing it makes libvirt call
            // `release` once, now or right after a dispatch in progress.
            unsafe { sys::virStreamEventRemoveCallback(stream.as_ptr()) };
        }
        // Tells libvirtd to close its end (the pty stays with QEMU); an error means it is gone.
        let _ = stream.abort();
    }
}

/// How the guest side ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// libvirt's end of stream: the guest's pty hung up (the domain stopped).
    Eof,
    /// libvirt's error.
    Failed(String),
}

/// Guest output not read yet, how the stream ended, and who to wake.
pub(super) struct ReadState {
    pub(super) buf: VecDeque<u8>,
    pub(super) end: Option<End>,
    pub(super) waker: Option<Waker>,
    pub(super) dropped: u64,
}

/// What the session and the callback share.
pub(crate) struct Shared {
    read: Mutex<ReadState>,
    /// Set before a newer session of this process opens the same console with force, or when
    /// the stream failed while the domain still ran: this session was taken over.
    taken_over: AtomicBool,
    /// For asking whether the domain still runs when the stream fails.
    libvirt: Weak<Libvirt>,
    uuid: Uuid,
    runtime: tokio::runtime::Handle,
    /// Itself, for work handed from the callback to the blocking pool.
    me: Weak<Shared>,
}

impl Shared {
    pub(super) fn new(libvirt: Weak<Libvirt>, uuid: Uuid, runtime: tokio::runtime::Handle) -> Arc<Shared> {
        Arc::new_cyclic(|me| Shared {
            read: Mutex::new(ReadState { buf: VecDeque::new(), end: None, waker: None, dropped: 0 }),
            taken_over: AtomicBool::new(false),
            libvirt,
            uuid,
            runtime,
            me: me.clone(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, ReadState> {
        self.read.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn taken_over(&self) -> bool {
        self.taken_over.load(Ordering::SeqCst)
    }

    /// Marks this session as replaced by a newer one of this process (or not, if opening that
    /// one failed).
    pub(crate) fn set_taken_over(&self, yes: bool) {
        self.taken_over.store(yes, Ordering::SeqCst);
    }

    /// The callback's work: moves everything libvirt has queued into the bounded buffer.
    /// `recv` is `virStreamRecv` (bytes, 0 at the end, -2 for nothing queued, -1 on error);
    /// `stop` silences further events once the stream ended.
    pub(super) fn drain(&self, events: sys::virStreamEventType, mut recv: impl FnMut(&mut [u8]) -> c_int, stop: impl FnOnce()) {
        let mut scratch = [0u8; 16 * 1024];
        let end = loop {
            match recv(&mut scratch) {
                n if n > 0 => self.push(&scratch[..n.unsigned_abs() as usize]),
                0 => break Some(End::Eof),
                -2 => break None,
                _ => break Some(End::Failed(virt::error::Error::last_error().message().to_owned())),
            }
        };
        // Remote streams report an end as readable (then recv says how); local ones may not.
        let end = end.or_else(|| match events {
            e if e & sys::VIR_STREAM_EVENT_ERROR != 0 => Some(End::Failed("stream error".to_owned())),
            e if e & sys::VIR_STREAM_EVENT_HANGUP != 0 => Some(End::Eof),
            _ => None,
        });
        match end {
            None => self.wake(),
            Some(end) => {
                // libvirt keeps reporting an ended stream readable: stop its timer.
                stop();
                match end {
                    End::Failed(message) if !self.taken_over() => self.judge(message),
                    end => self.finish(end),
                }
            }
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

    /// libvirt ends a console taken over from another connection (`virsh console --force`,
    /// another Porthole process) as an I/O failure of this stream. While the domain still runs
    /// (its pty is there), that is what happened. Asks on a blocking thread, then publishes.
    fn judge(&self, message: String) {
        let Some(me) = self.me.upgrade() else { return };
        drop(self.runtime.spawn_blocking(move || {
            if let Some(libvirt) = me.libvirt.upgrade() {
                let dom = libvirt.conn.lookup_domain_by_uuid_string(&me.uuid.to_string());
                if dom.and_then(|d| d.is_active()).unwrap_or(false) {
                    tracing::info!(cause = %message, "serial console taken over from another connection");
                    me.set_taken_over(true);
                }
            }
            me.finish(End::Failed(message));
        }));
    }

    /// Records how the stream ended (the first word counts) and wakes the reader.
    fn finish(&self, end: End) {
        self.lock().end.get_or_insert(end);
        self.wake();
    }

    fn wake(&self) {
        let waker = self.lock().waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// libvirt's stream event callback, on its event loop thread.
unsafe extern "C" fn on_event(st: sys::virStreamPtr, events: c_int, opaque: *mut c_void) {
    // SAFETY: `opaque` is the `Arc<Shared>` registered in `Libvirt::watch`; libvirt keeps it until
    // it calls `release`, which it never does while this callback runs.
    let shared = unsafe { &*(opaque as *const Shared) };
    shared.drain(
        events as sys::virStreamEventType,
        // SAFETY: `st` is the stream being dispatched, valid for the whole callback; the buffer
        // is ours and its length is passed.
        |buf| unsafe { sys::virStreamRecv(st, buf.as_mut_ptr().cast(), buf.len()) },
        || {
            // SAFETY: as above; a callback may update its own stream's events.
            let _ = unsafe { sys::virStreamEventUpdateCallback(st, 0) };
        },
    );
}

/// Frees the callback's data (libvirt calls it once, when the callback is removed).
unsafe extern "C" fn release(opaque: *mut c_void) {
    // SAFETY: `opaque` came from `Arc::into_raw` in `Libvirt::watch` and is released only here.
    drop(unsafe { Arc::from_raw(opaque as *const Shared) });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Arc<Shared> {
        // libvirt's error functions need the library initialized, which any call does first.
        Connect::version().unwrap();
        Shared::new(Weak::new(), Uuid::nil(), tokio::runtime::Handle::current())
    }

    /// A `virStreamRecv` that hands out `chunks`, then says what `last` says.
    fn recv_from(mut chunks: Vec<Vec<u8>>, last: c_int) -> impl FnMut(&mut [u8]) -> c_int {
        chunks.reverse();
        move |buf| match chunks.pop() {
            Some(c) => {
                buf[..c.len()].copy_from_slice(&c);
                c.len() as c_int
            }
            None => last,
        }
    }

    #[tokio::test]
    async fn output_beyond_the_buffer_is_dropped_and_counted() {
        let s = shared();
        let chunk = vec![b'x'; 16 * 1024];
        let n = READ_BUFFER / chunk.len() + 3;
        let mut stopped = false;
        s.drain(sys::VIR_STREAM_EVENT_READABLE, recv_from(vec![chunk.clone(); n], -2), || stopped = true);
        let st = s.lock();
        assert_eq!(st.buf.len(), READ_BUFFER);
        assert_eq!(st.dropped, (n * chunk.len() - READ_BUFFER) as u64);
        assert!(st.end.is_none() && !stopped);
    }

    #[tokio::test]
    async fn end_of_stream_stops_the_events() {
        let s = shared();
        let mut stopped = false;
        s.drain(sys::VIR_STREAM_EVENT_READABLE, recv_from(vec![b"bye".to_vec()], 0), || stopped = true);
        assert!(stopped);
        let st = s.lock();
        assert_eq!((st.buf.len(), st.end.clone()), (3, Some(End::Eof)));
    }

    #[tokio::test]
    async fn a_failure_without_a_running_domain_is_not_a_take_over() {
        let s = shared();
        s.drain(sys::VIR_STREAM_EVENT_READABLE, recv_from(vec![], -1), || {});
        // The verdict comes from the blocking pool.
        for _ in 0..100 {
            if s.lock().end.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(matches!(s.lock().end, Some(End::Failed(_))));
        assert!(!s.taken_over());
    }

    #[tokio::test]
    async fn a_hang_up_without_data_ends_the_stream() {
        let s = shared();
        s.drain(sys::VIR_STREAM_EVENT_HANGUP, recv_from(vec![], -2), || {});
        assert_eq!(s.lock().end, Some(End::Eof));
    }
}
