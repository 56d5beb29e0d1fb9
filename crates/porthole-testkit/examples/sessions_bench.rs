//! Connection and idle-session measurements through a console proxy:
//! `sessions_bench setup URL COUNT CONCURRENCY` opens and closes COUNT consoles (WebSocket upgrade,
//! token check, RFB handshake) and prints the rate and latency percentiles;
//! `sessions_bench idle URL COUNT PID...` holds COUNT idle consoles, prints the RSS growth of the
//! given processes (and their children, as PSS) per session, then checks that every session still answers.

use porthole_testkit::{ws_connect, RfbClient, WsIo};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: sessions_bench setup URL COUNT CONCURRENCY | idle URL COUNT PID...";
    let mode = args.get(1).expect(usage).as_str();
    let url = args.get(2).expect(usage).clone();
    let count: usize = args.get(3).and_then(|a| a.parse().ok()).expect(usage);
    match mode {
        "setup" => setup(url, count, args.get(4).and_then(|a| a.parse().ok()).unwrap_or(8)).await,
        "idle" => idle(url, count, args[4..].iter().filter_map(|p| p.parse().ok()).collect()).await,
        _ => panic!("{usage}"),
    }
}

async fn open(url: &str) -> RfbClient<WsIo> {
    let (ws, _) = ws_connect(url, &[("sec-websocket-protocol", "binary")]).await.expect("websocket");
    RfbClient::handshake(WsIo::new(ws)).await.expect("rfb handshake")
}

async fn setup(url: String, count: usize, concurrency: usize) {
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per = count.div_ceil(concurrency);
    for _ in 0..concurrency {
        let url = url.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                let c = open(&url).await;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
                drop(c);
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r.expect("task"));
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    println!(
        "connections={} secs={secs:.2} per_s={:.0} p50_us={:.0} p99_us={:.0}",
        lat.len(),
        lat.len() as f64 / secs,
        pct(0.5),
        pct(0.99)
    );
}

/// Proportional set size (KiB: resident memory, shared pages split among their sharers) of these
/// processes and all their descendants, so forked children are not counted many times.
fn rss_kib(pids: &[u32]) -> u64 {
    let mut all: Vec<u32> = pids.to_vec();
    let mut i = 0;
    while i < all.len() {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", all[i])).unwrap_or_default();
        all.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        i += 1;
    }
    all.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|s| s.lines().find(|l| l.starts_with("Pss:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .sum()
}

async fn idle(url: String, count: usize, pids: Vec<u32>) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(&pids);
    let mut sessions = Vec::with_capacity(count);
    let mut pending = tokio::task::JoinSet::new();
    let start = Instant::now();
    for _ in 0..count {
        if pending.len() >= 64 {
            sessions.push(pending.join_next().await.expect("join").expect("task"));
        }
        let url = url.clone();
        pending.spawn(async move { open(&url).await });
    }
    while let Some(r) = pending.join_next().await {
        sessions.push(r.expect("task"));
    }
    let opened = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(&pids);
    let per_session = (after.saturating_sub(before)) as f64 / count as f64;
    // Every session must still answer a 1x1 update request.
    let mut alive = 0;
    for c in sessions.iter_mut() {
        let ok = async {
            c.request_update(false, 0, 0, 1, 1).await?;
            c.read_update().await
        };
        if tokio::time::timeout(Duration::from_secs(10), ok).await.is_ok_and(|r| r.is_ok()) {
            alive += 1;
        }
    }
    println!(
        "sessions={count} open_secs={opened:.1} pss_before_kib={before} pss_after_kib={after} kib_per_session={per_session:.1} alive={alive}"
    );
}
