//! Connection and idle-session measurements through a console proxy:
//! `sessions_bench setup URL[,URL…] COUNT CONCURRENCY` opens and closes COUNT consoles (WebSocket
//! upgrade, token check, RFB handshake), spread over the URLs (several proxies), and prints the
//! rate and latency percentiles;
//! `sessions_bench check BASE[,BASE…] TOKEN COUNT CONCURRENCY` asks `POST /console/check` COUNT
//! times (the admission's token check, without a session) on kept-alive connections, spread over
//! the proxies' base URLs, and prints the rate and latency percentiles;
//! `sessions_bench idle URL COUNT PID...` holds COUNT idle consoles, prints the RSS growth of the
//! given processes (and their children, as PSS) per session, then checks that every session still
//! answers; with `BENCH_HOLD_SECS=N` it then holds them N seconds more before closing them.

use porthole_testkit::{ws_connect, RfbClient, WsIo};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: sessions_bench setup URL[,URL…] COUNT CONCURRENCY | check BASE[,BASE…] TOKEN COUNT CONCURRENCY | idle URL COUNT PID...";
    let mode = args.get(1).expect(usage).as_str();
    let url = args.get(2).expect(usage).clone();
    if mode == "check" {
        let token = args.get(3).expect(usage).clone();
        let count: usize = args.get(4).and_then(|a| a.parse().ok()).expect(usage);
        return check(url, token, count, args.get(5).and_then(|a| a.parse().ok()).unwrap_or(8)).await;
    }
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

async fn setup(urls: String, count: usize, concurrency: usize) {
    let urls: Vec<String> = urls.split(',').map(str::to_owned).collect();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per = count.div_ceil(concurrency);
    for w in 0..concurrency {
        let urls = urls.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let t = Instant::now();
                let c = open(&urls[(w + i) % urls.len()]).await;
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
    report("connections", lat, start);
}

/// Prints the count, the rate and the percentiles of latencies in µs.
fn report(what: &str, mut lat: Vec<f64>, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    println!("{what}={} secs={secs:.2} per_s={:.0} p50_us={:.0} p99_us={:.0}", lat.len(), lat.len() as f64 / secs, pct(0.5), pct(0.99));
}

async fn check(bases: String, token: String, count: usize, concurrency: usize) {
    let bases: Vec<String> = bases.split(',').map(|b| b.trim_start_matches("http://").trim_end_matches('/').to_owned()).collect();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per = count.div_ceil(concurrency);
    for w in 0..concurrency {
        let (host, token) = (bases[w % bases.len()].clone(), token.clone());
        tasks.spawn(async move {
            let mut conn = BufReader::new(tokio::net::TcpStream::connect(&host).await.expect("connect"));
            let body = format!("{{\"token\": \"{token}\"}}");
            let req = format!(
                "POST /console/check HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                conn.get_mut().write_all(req.as_bytes()).await.expect("write");
                let answer = read_response(&mut conn).await;
                lat.push(t.elapsed().as_secs_f64() * 1e6);
                assert!(answer.contains("\"ok\":true"), "the token check failed: {answer}");
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.extend(r.expect("task"));
    }
    report("checks", lat, start);
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns the body.
async fn read_response(conn: &mut BufReader<tokio::net::TcpStream>) -> String {
    let mut length = 0;
    loop {
        let mut line = String::new();
        assert!(conn.read_line(&mut line).await.expect("read") > 0, "the proxy closed the connection");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("a length");
            }
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await.expect("the body");
    String::from_utf8_lossy(&body).into_owned()
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
    // A session that does not open within 30 s (a proxy that hangs on it) is counted as not
    // alive instead of holding the benchmark up.
    let open_bounded = |url: String| async move { tokio::time::timeout(Duration::from_secs(30), open(&url)).await.ok() };
    for _ in 0..count {
        if pending.len() >= 64 {
            sessions.extend(pending.join_next().await.expect("join").expect("task"));
        }
        pending.spawn(open_bounded(url.clone()));
    }
    while let Some(r) = pending.join_next().await {
        sessions.extend(r.expect("task"));
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
    if let Some(hold) = std::env::var("BENCH_HOLD_SECS").ok().and_then(|s| s.parse().ok()) {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        tokio::time::sleep(Duration::from_secs(hold)).await;
    }
    drop(sessions);
}
