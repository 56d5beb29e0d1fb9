//! The relay over in-memory pipes, with tokio's paused clock for its deadlines.

use super::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

const MASK: [u8; 4] = [9, 8, 7, 6];

fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x82];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(&MASK);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    f
}

struct Setup {
    relay: Relay<DuplexStream, DuplexStream>,
    browser: DuplexStream,
    server: DuplexStream,
}

fn setup(limits: Limits, pipe: usize) -> Setup {
    let (ws_side, browser) = tokio::io::duplex(pipe);
    let (vnc_side, server) = tokio::io::duplex(pipe);
    let relay = Relay::new(WsConn::new(ws_side, Bytes::new()), vnc_side, limits, Arc::default());
    Setup { relay, browser, server }
}

const NO_LIMITS: Limits = Limits { idle: None, stall: Duration::from_secs(10), first_bytes: None };

async fn run(relay: &mut Relay<DuplexStream, DuplexStream>) -> SessionEnd {
    std::future::poll_fn(|cx| relay.poll(cx)).await
}

#[tokio::test]
async fn bytes_flow_both_ways_and_the_counters_follow() {
    let Setup { mut relay, mut browser, mut server } = setup(NO_LIMITS, 64 * 1024);
    let counters = relay.counters.clone();
    let task = tokio::spawn(async move { (run(&mut relay).await, relay) });
    browser.write_all(&client_frame(b"key")).await.unwrap();
    let mut got = [0u8; 3];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"key");
    server.write_all(b"RFB 003.008\n").await.unwrap();
    let mut head = [0u8; 2];
    browser.read_exact(&mut head).await.unwrap();
    assert_eq!(head, [0x82, 12]);
    let mut body = [0u8; 12];
    browser.read_exact(&mut body).await.unwrap();
    assert_eq!(&body, b"RFB 003.008\n");
    drop(server);
    let (end, _) = task.await.unwrap();
    assert_eq!((end.side, matches!(end.kind, EndKind::Closed)), (Side::VncServer, true));
    assert_eq!(counters.to_server.load(Ordering::Relaxed), 3);
    assert_eq!(counters.to_browser.load(Ordering::Relaxed), 12);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stops_reading_is_caught_by_the_stall_clock() {
    let limits = Limits { stall: Duration::from_secs(3), ..NO_LIMITS };
    let Setup { mut relay, mut browser, server: _server } = setup(limits, 1024);
    let flood = tokio::spawn(async move {
        let frame = client_frame(&[7u8; 1000]);
        while browser.write_all(&frame).await.is_ok() {}
    });
    let started = Instant::now();
    let end = run(&mut relay).await;
    assert!(matches!(end.kind, EndKind::Stalled(_)) && end.side == Side::VncServer, "{end}");
    assert!(started.elapsed() >= Duration::from_secs(3));
    flood.abort();
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_speaks_is_caught() {
    let limits = Limits { first_bytes: Some(Duration::from_secs(2)), ..NO_LIMITS };
    let Setup { mut relay, browser: _b, server: _s } = setup(limits, 1024);
    let end = run(&mut relay).await;
    assert!(matches!(end.kind, EndKind::Silent(_)) && end.side == Side::VncServer, "{end}");
}

#[tokio::test(start_paused = true)]
async fn idleness_ends_a_session_but_traffic_keeps_it() {
    let limits = Limits { idle: Some(Duration::from_secs(5)), ..NO_LIMITS };
    let Setup { mut relay, mut browser, mut server } = setup(limits, 1024);
    let task = tokio::spawn(async move { run(&mut relay).await });
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        server.write_all(b"x").await.unwrap();
        let mut frame = [0u8; 3];
        browser.read_exact(&mut frame).await.unwrap();
    }
    let before = Instant::now();
    let end = task.await.unwrap();
    assert!(matches!(end.kind, EndKind::Policy(Policy::Idle)), "{end}");
    assert!(before.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn a_browser_protocol_error_ends_with_its_side() {
    let Setup { mut relay, mut browser, server: _s } = setup(NO_LIMITS, 1024);
    browser.write_all(&[0x82, 0x01, b'x']).await.unwrap(); // unmasked
    let end = run(&mut relay).await;
    assert!(matches!(end.kind, EndKind::Protocol(_)) && end.side == Side::Browser, "{end}");
}

/// A stream that, as TLS does, may keep what was written until it is flushed.
struct Held {
    inner: DuplexStream,
    held: Vec<u8>,
}

impl tokio::io::AsyncRead for Held {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Held {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.held.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while !this.held.is_empty() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &this.held))?;
            this.held.drain(..n);
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Transport for Held {}

#[tokio::test]
async fn what_is_written_is_flushed_both_ways() {
    let (ws_side, mut browser) = tokio::io::duplex(64 * 1024);
    let (vnc_side, mut server) = tokio::io::duplex(64 * 1024);
    let ws = WsConn::new(Held { inner: ws_side, held: Vec::new() }, Bytes::new());
    let mut relay = Relay::new(ws, Held { inner: vnc_side, held: Vec::new() }, NO_LIMITS, Arc::default());
    let task = tokio::spawn(async move { std::future::poll_fn(|cx| relay.poll(cx)).await });
    let within = |what| move |_| panic!("{what} stayed in the stream's buffer: never flushed");
    browser.write_all(&client_frame(b"key")).await.unwrap();
    let mut got = [0u8; 3];
    tokio::time::timeout(Duration::from_secs(5), server.read_exact(&mut got)).await.unwrap_or_else(within("the browser's key")).unwrap();
    assert_eq!(&got, b"key");
    server.write_all(b"RFB 003.008\n").await.unwrap();
    let mut frame = [0u8; 14];
    tokio::time::timeout(Duration::from_secs(5), browser.read_exact(&mut frame))
        .await
        .unwrap_or_else(within("the server's bytes"))
        .unwrap();
    assert_eq!(&frame[2..], b"RFB 003.008\n");
    task.abort();
}
