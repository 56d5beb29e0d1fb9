//! Serial consoles on a real guest through a real libvirtd: a TCG domain booting Debian's kernel
//! with a busybox shell on ttyS0 (`scripts/guest-image.sh`), its console opened with
//! `virDomainOpenConsole` as a [`ConsoleStream`]. Needs libvirtd (`scripts/libvirt-up.sh`); run with
//! `cargo nextest run -p porthole-compute --run-ignored all --no-capture` to see the timings.

#![allow(clippy::unwrap_used)]

mod guest;

use guest::{cpu_seconds, percentiles, read_until, rss_kib, tail, virsh_ok, Guest, PROMPT, URI};
use porthole_compute::serial::{open_console, ConsoleError, ConsoleStream, READ_BUFFER};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const OPEN_LIMIT: Duration = Duration::from_secs(10);
const BOOT_LIMIT: Duration = Duration::from_secs(90);

async fn open(uri: &str, g: &Guest) -> ConsoleStream {
    open_console(uri, g.uuid, None, OPEN_LIMIT).await.unwrap_or_else(|e| panic!("opening the console of {}: {e}", g.name))
}

/// Starts a guest with the console open from the first line, and waits for the shell.
async fn booted(tag: &str) -> (Guest, ConsoleStream, Vec<u8>) {
    let g = Guest::create_paused(tag);
    let mut c = open(URI, &g).await;
    g.resume();
    let mut seen = Vec::new();
    read_until(&mut c, &mut seen, 0, PROMPT, BOOT_LIMIT).await;
    (g, c, seen)
}

/// Runs a command in the guest's shell and returns what it printed up to the next prompt.
async fn run(c: &mut ConsoleStream, cmd: &str) -> String {
    c.write_all(format!("{cmd}\n").as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let echoed = format!("{cmd}\r\n");
    read_until(c, &mut seen, 0, &echoed, Duration::from_secs(20)).await;
    // The output and the next prompt may have come in the same read as the echo.
    let start = seen.windows(echoed.len()).position(|w| w == echoed.as_bytes()).unwrap_or(0) + echoed.len();
    read_until(c, &mut seen, start, PROMPT, Duration::from_secs(20)).await;
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn boot_messages_prompt_and_a_command_through_the_stream() {
    let g = Guest::create_paused("boot");
    let t = Instant::now();
    let mut c = open(URI, &g).await;
    let opened = t.elapsed();
    g.resume();
    let mut seen = Vec::new();
    read_until(&mut c, &mut seen, 0, "Linux version", BOOT_LIMIT).await;
    read_until(&mut c, &mut seen, 0, "porthole guest: Linux", BOOT_LIMIT).await;
    read_until(&mut c, &mut seen, 0, PROMPT, BOOT_LIMIT).await;
    let booted = t.elapsed();
    let out = run(&mut c, "echo porthole-serial-OK").await;
    assert!(out.contains("\r\nporthole-serial-OK\r\n"), "{out}");
    eprintln!("serial: console opened in {:.1} ms; guest booted to its prompt in {:.1} s", ms(opened), booted.as_secs_f64());

    // The domain stops: the stream ends with EOF, not an error.
    virsh_ok(&["destroy", &g.name]);
    let mut rest = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(15), c.read_to_end(&mut rest)).await;
    assert!(matches!(end, Ok(Ok(_))), "{end:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn a_second_session_takes_the_console_over() {
    let (g, mut first, _) = booted("takeover").await;
    let mut second = open(URI, &g).await;
    // The first session is ended, and told why.
    let mut sink = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), first.read_to_end(&mut sink)).await.expect("first session still open");
    let err = ended.expect_err("the first session must end with an error, not EOF");
    assert_eq!(ConsoleError::from_io(&err), Some(&ConsoleError::TakenOver), "{err}");
    assert!(first.write_all(b"echo nope\n").await.is_err());
    // An ended stream, not dropped yet, costs nothing (libvirt would report it readable forever).
    let cpu = cpu_seconds();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(cpu_seconds() - cpu < 0.3, "{} s of CPU in 1 s", cpu_seconds() - cpu);
    // The second one has the shell.
    let out = run(&mut second, "echo porthole-serial-second").await;
    assert!(out.contains("\r\nporthole-serial-second\r\n"), "{out}");

    // A session taken over from elsewhere (here another connection URI, as `virsh console
    // --force` or another Porthole process would be) is told the same.
    let mut third = open("qemu+tcp://127.0.0.1/system", &g).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), second.read_to_end(&mut sink)).await.expect("second session still open");
    let err = ended.expect_err("ended by another connection");
    assert_eq!(ConsoleError::from_io(&err), Some(&ConsoleError::TakenOver), "{err}");
    let out = run(&mut third, "echo porthole-serial-third").await;
    assert!(out.contains("\r\nporthole-serial-third\r\n"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn a_flooding_guest_does_not_grow_memory() {
    let (_g, mut c, _) = booted("flood").await;
    let before = rss_kib();
    // The guest prints as fast as its UART goes while nobody reads the stream for a while.
    c.write_all(b"yes porthole-flood-0123456789abcdefghijklmnopqrstuvwxyz\n").await.unwrap();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (held, dropped, grown) = (c.buffered(), c.dropped(), rss_kib().saturating_sub(before));
    eprintln!("serial: after 8 s unread: {held} bytes held, {dropped} dropped, RSS grew {grown} KiB");
    assert!(held <= READ_BUFFER, "{held}");
    assert!(dropped > 0, "the guest did not flood enough to test anything");
    assert!(grown < 4 * 1024, "RSS grew {grown} KiB");

    // Reading again: the flood flows, Ctrl-C stops it, the shell answers.
    let t = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0usize;
    while t.elapsed() < Duration::from_secs(3) {
        read += c.read(&mut buf).await.unwrap();
    }
    eprintln!("serial: guest output through the stream: {:.0} KB/s", read as f64 / 1000.0 / t.elapsed().as_secs_f64());
    c.write_all(b"\x03").await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut c, &mut seen, 0, PROMPT, Duration::from_secs(30)).await;
    let out = run(&mut c, "echo porthole-after-flood").await;
    assert!(out.contains("\r\nporthole-after-flood\r\n"), "{}", tail(out.as_bytes()));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn a_guest_that_does_not_read_blocks_the_writer() {
    let (g, mut c, _) = booted("stall").await;
    // A paused guest drains nothing: its UART's FIFO fills, then QEMU's pty, libvirtd's queue
    // for this connection, and the socket between.
    virsh_ok(&["suspend", &g.name]);
    let before = rss_kib();
    let chunk = vec![b'x'; 4096];
    let mut accepted = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_secs(3), c.write(&chunk)).await {
            Ok(Ok(n)) => accepted += n,
            Ok(Err(e)) => panic!("write failed: {e}"),
            Err(_) => break, // blocked: that is the point
        }
        assert!(accepted < 64 * 1024 * 1024, "64 MiB accepted by a paused guest: nothing pushes back");
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!("serial: a paused guest blocked the writer after {} KiB; RSS grew {grown} KiB", accepted / 1024);
    assert!(grown < 4 * 1024, "RSS grew {grown} KiB");
    // Resumed, the guest reads again and the writer moves on.
    virsh_ok(&["resume", &g.name]);
    tokio::time::timeout(Duration::from_secs(30), c.write_all(b"\x03")).await.expect("writer still blocked after resume").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs libvirtd"]
async fn keystroke_echo_round_trip_and_open_time() {
    let (g, mut c, _) = booted("latency").await;
    // 200 keystrokes: a letter, then DEL, each timed from the write to its echo.
    let mut rtts = Vec::new();
    let mut seen = Vec::new();
    for i in 0..200 {
        let (key, echo): (&[u8], &str) = if i % 2 == 0 { (b"x", "x") } else { (b"\x7f", "\x08") };
        let from = seen.len();
        let t = Instant::now();
        c.write_all(key).await.unwrap();
        read_until(&mut c, &mut seen, from, echo, Duration::from_secs(10)).await;
        rtts.push(t.elapsed());
    }
    let (p50, p99) = percentiles(rtts);
    drop(c);
    // Opening (a fresh connection, lookup, virDomainOpenConsole, callback) on a running guest.
    let mut opens = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let c = open(URI, &g).await;
        opens.push(t.elapsed());
        drop(c);
    }
    let (o50, o99) = percentiles(opens);
    eprintln!("serial: keystroke echo round trip p50 {p50:.2} ms, p99 {p99:.2} ms (200 keystrokes); open p50 {o50:.1} ms, p99 {o99:.1} ms (20 opens)");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
