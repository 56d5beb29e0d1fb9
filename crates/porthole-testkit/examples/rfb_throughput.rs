//! A measuring VNC client: `rfb_throughput URL FRAMES PINGS`, where URL is `tcp://host:port` or a
//! `ws://` console URL. Prints bulk throughput of full raw updates and round trips of 1×1 updates.

use porthole_testkit::{ws_connect, RfbClient, WsIo};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("usage: rfb_throughput URL [FRAMES] [PINGS]");
    let frames: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let pings: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2000);
    if let Some(addr) = url.strip_prefix("tcp://") {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        run(tcp, frames, pings).await;
    } else if std::env::var("RFB_CLIENT").is_ok_and(|c| c == "tungstenite") {
        let (ws, _) = ws_connect(url, &[("sec-websocket-protocol", "binary")]).await.expect("websocket");
        run(WsIo::new(ws), frames, pings).await;
    } else {
        // The default: a minimal client that parses frames straight off the socket.
        run(porthole_testkit::raw_ws::RawWs::connect(url).await.expect("websocket"), frames, pings).await;
    }
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(io: S, frames: u32, pings: usize) {
    let mut c = RfbClient::handshake(io).await.expect("handshake");
    let (w, h) = (c.server_init.width, c.server_init.height);
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..frames {
        c.request_update(false, 0, 0, w, h).await.expect("request");
        bytes += c.read_update().await.expect("update").iter().map(|r| r.pixels.len() + 12).sum::<usize>() + 4;
    }
    let secs = start.elapsed().as_secs_f64();
    let mut rtts = Vec::with_capacity(pings);
    for _ in 0..pings {
        let t = Instant::now();
        c.request_update(false, 0, 0, 1, 1).await.expect("request");
        c.read_update().await.expect("update");
        rtts.push(t.elapsed().as_secs_f64() * 1e6);
    }
    rtts.sort_by(f64::total_cmp);
    let pct = |p: f64| rtts.get(((rtts.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(f64::NAN);
    println!(
        "bytes={bytes} secs={secs:.3} mb_per_s={:.1} rtt_p50_us={:.1} rtt_p99_us={:.1}",
        bytes as f64 / secs / 1e6,
        pct(0.5),
        pct(0.99)
    );
}
