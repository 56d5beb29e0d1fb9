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

use super::callback::{End, Libvirt, Shared};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;
use uuid::Uuid;
use virt::connect::Connect;
use virt::stream::Stream;

/// Guest output held for a reader that is behind; more is dropped (and counted) until it reads.
pub const READ_BUFFER: usize = 256 * 1024;
/// The most one `poll_write` accepts: the bytes in flight toward libvirtd at any time.
pub const WRITE_CHUNK: usize = 16 * 1024;

/// Why a console stream ended, other than the guest side hanging up (which reads as EOF).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Another session opened the same console with force and libvirt ended this one: a newer
    /// session of this process, or, while the domain still runs, one elsewhere (`virsh console
    /// --force`, another Porthole process), which libvirt reports as an I/O failure.
    #[error("serial console taken over by another session")]
    TakenOver,
    /// libvirt ended the stream with an error and the domain is not running, or libvirtd is gone.
    #[error("libvirt console stream: {0}")]
    Libvirt(String),
}

impl ConsoleError {
    /// The [`ConsoleError`] inside an I/O error from a [`ConsoleStream`], if it is one.
    pub fn from_io(e: &io::Error) -> Option<&ConsoleError> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<ConsoleError>())
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
    pub(crate) fn new(conn: Connect, stream: Stream, uuid: Uuid, runtime: tokio::runtime::Handle) -> Result<Self, String> {
        let libvirt = Arc::new(Libvirt::new(conn, stream));
        let shared = Shared::new(Arc::downgrade(&libvirt), uuid, runtime.clone());
        libvirt.watch(&shared)?;
        Ok(ConsoleStream { shared, libvirt: Some(libvirt), runtime, writing: None })
    }

    /// What opening a newer session needs to mark this one as taken over.
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

    /// The error reads and writes report once the stream ended (`None`: a plain end of stream).
    fn ended(&self, end: &End) -> Option<io::Error> {
        if self.shared.taken_over() {
            return Some(io::Error::other(ConsoleError::TakenOver));
        }
        match end {
            End::Eof => None,
            End::Failed(m) => Some(io::Error::other(ConsoleError::Libvirt(m.clone()))),
        }
    }

    /// Waits for the chunk in flight, if any, and reports how its sending went.
    fn poll_in_flight(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(task) = self.writing.as_mut() else { return Poll::Ready(Ok(())) };
        let joined = ready!(Pin::new(task).poll(cx));
        self.writing = None;
        Poll::Ready(joined.unwrap_or_else(|e| Err(io::Error::other(e))))
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
        let Some(end) = st.end.clone() else {
            st.waker = Some(cx.waker().clone());
            return Poll::Pending;
        };
        drop(st);
        Poll::Ready(this.ended(&end).map_or(Ok(()), Err))
    }
}

impl AsyncWrite for ConsoleStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_in_flight(cx))?;
        let end = this.shared.lock().end.clone();
        if let Some(end) = end {
            return Poll::Ready(Err(this.ended(&end).unwrap_or_else(|| io::ErrorKind::BrokenPipe.into())));
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
        // Aborting the stream and closing the connection are calls to libvirtd that wait for its
        // answer, which can take as long as a chunk in flight toward a guest that does not read:
        // never on this thread. A chunk in flight holds its own reference and drops it last.
        if let Some(libvirt) = self.libvirt.take() {
            drop(self.runtime.spawn_blocking(move || drop(libvirt)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A stream with no libvirt behind it: the tests play the callback's part.
    fn detached() -> ConsoleStream {
        let runtime = tokio::runtime::Handle::current();
        let shared = Shared::new(std::sync::Weak::new(), Uuid::nil(), runtime.clone());
        ConsoleStream { shared, libvirt: None, runtime, writing: None }
    }

    /// Plays libvirt's callback: `chunks` are queued, then `virStreamRecv` answers `last`.
    fn feed(shared: &Shared, chunks: Vec<&'static [u8]>, last: std::ffi::c_int) {
        let mut chunks = chunks.into_iter();
        let recv = |buf: &mut [u8]| match chunks.next() {
            Some(b) => {
                buf[..b.len()].copy_from_slice(b);
                b.len() as std::ffi::c_int
            }
            None => last,
        };
        shared.drain(virt::sys::VIR_STREAM_EVENT_READABLE, recv, || {});
    }

    #[tokio::test]
    async fn a_waiting_reader_gets_the_output_then_end_of_stream() {
        let mut c = detached();
        let shared = c.shared().clone();
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            c.read_to_end(&mut all).await.map(|_| all)
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!reader.is_finished());
        feed(&shared, vec![b"guest# ", b"ls\r\n"], -2);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!reader.is_finished(), "no end yet");
        feed(&shared, vec![], 0);
        assert_eq!(reader.await.unwrap().unwrap(), b"guest# ls\r\n");
    }

    #[test]
    fn the_relay_can_own_it() {
        fn relayable<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static>() {}
        relayable::<ConsoleStream>();
    }

    #[tokio::test]
    async fn take_over_is_an_error_that_says_so() {
        let mut c = detached();
        c.shared().set_taken_over(true);
        feed(c.shared(), vec![], 0);
        let err = c.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(ConsoleError::from_io(&err), Some(&ConsoleError::TakenOver));
        assert_eq!(err.to_string(), "serial console taken over by another session");
        let err = c.write(b"x").await.unwrap_err();
        assert_eq!(ConsoleError::from_io(&err), Some(&ConsoleError::TakenOver));
    }

    #[tokio::test]
    async fn small_reads_take_the_buffer_in_order() {
        let mut c = detached();
        feed(c.shared(), vec![b"abc", b"def"], -2);
        let mut two = [0u8; 2];
        c.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        let mut rest = [0u8; 4];
        c.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"cdef");
        assert_eq!(c.dropped(), 0);
    }
}
