//! `porthole attach`: this terminal on a VM's serial console through the proxy, like `virsh
//! console` from anywhere the proxy is reachable. Keys go to the guest as typed (raw mode), the
//! escape key (Ctrl-] by default) leaves, and when the proxy ends the session its reason is said.
//!
//! # Layout
//! - [`connect`]: console URL → WebSocket URL, TCP/TLS, the upgrade and its refusal.
//! - [`terminal`]: raw mode and its restoring, the escape key, the window size.

mod connect;
mod terminal;

pub use terminal::parse_escape;

use connect::Console;
use futures_util::{SinkExt as _, StreamExt as _};
use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// After this side closes (escape key, end of input, a signal), how long the proxy has to answer
/// the close before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What `attach` was asked to do.
#[derive(Debug)]
pub struct Options<'a> {
    /// The console URL (WebSocket, or the terminal page's).
    pub url: &'a str,
    /// A private CA for `wss://`.
    pub ca: Option<&'a Path>,
    /// The byte that leaves the console.
    pub escape: u8,
}

/// How a session ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// The escape key.
    Detached,
    /// Standard input ended (not a terminal: a pipe or a file).
    InputEnded,
    /// A signal (SIGTERM, SIGHUP, SIGINT, SIGQUIT) asked this process to stop.
    Signal(&'static str, u8),
    /// The proxy closed the WebSocket, with this code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Lost(String),
    /// The URL opened a VNC console, not a serial one.
    NotSerial,
}

/// Runs `porthole attach` on a console URL until the escape key or the end of the session.
pub async fn run(opts: Options<'_>) -> anyhow::Result<ExitCode> {
    let url = connect::websocket_url(opts.url)?;
    let ws = connect::connect(&url, opts.ca).await?;
    let proxy = url.host_str().map(|h| format!("{h}:{}", url.port_or_known_default().unwrap_or(0))).unwrap_or_default();
    let ending = {
        let _raw = terminal::RawMode::enter().map_err(|e| anyhow::anyhow!("cannot put the terminal in raw mode: {e}"))?;
        // Said once raw mode is on (so lines end in CR LF): what is typed from now on reaches the guest.
        eprint!("Connected to the serial console through {proxy}.\r\n");
        eprint!("Escape character is {}.\r\n", terminal::describe_escape(opts.escape));
        match terminal::window_size() {
            Some((rows, cols)) => eprint!(
                "The window size is not sent (a serial line has none); to match this terminal, run in the guest: \
                 stty rows {rows} cols {cols}\r\n"
            ),
            None => eprint!("The window size is not sent (a serial line has none).\r\n"),
        }
        relay(ws, opts.escape).await?
        // `_raw` restores the terminal here, on errors too, before anything more is printed.
    };
    Ok(report(&ending))
}

/// Says how the session ended (after the terminal is restored) and picks the exit code: 0 when
/// this side chose to leave, 1 when the proxy or the connection ended it, 128+N for signal N.
fn report(ending: &Ending) -> ExitCode {
    match ending {
        Ending::Detached | Ending::InputEnded => {
            eprintln!();
            ExitCode::SUCCESS
        }
        Ending::Signal(name, number) => {
            eprintln!("\nporthole: {name}: left the serial console");
            ExitCode::from(128 + number)
        }
        Ending::Closed(code, reason) => {
            let reason = if reason.is_empty() { "no reason given".to_owned() } else { reason.clone() };
            eprintln!("\nporthole: the proxy ended the session: {reason} (close code {code})");
            ExitCode::FAILURE
        }
        Ending::Lost(why) => {
            eprintln!("\nporthole: the connection to the proxy was lost: {why}");
            ExitCode::FAILURE
        }
        Ending::NotSerial => {
            eprintln!("\nporthole: this console URL is for a VNC console (a screen), not a serial console: open it in a browser");
            ExitCode::FAILURE
        }
    }
}

/// Moves bytes both ways until one side ends the session.
async fn relay(mut ws: Console, escape: u8) -> anyhow::Result<Ending> {
    let mut input = read_stdin();
    let mut stdout = tokio::io::stdout();
    let mut signals = Signals::new()?;
    let mut first = true;
    let ending = loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Binary(bytes))) => {
                    if std::mem::take(&mut first) && bytes.starts_with(b"RFB 00") {
                        break Ending::NotSerial;
                    }
                    write_out(&mut stdout, &bytes).await?;
                }
                Some(Ok(Message::Text(text))) => write_out(&mut stdout, text.as_bytes()).await?,
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.to_string()));
                    // tungstenite answers the close; let it go out.
                    let _ = tokio::time::timeout(CLOSE_GRACE, ws.close(None)).await;
                    return Ok(Ending::Closed(code, reason));
                }
                Some(Ok(_)) => {} // pings are answered by tungstenite
                Some(Err(e)) => return Ok(Ending::Lost(e.to_string())),
                None => return Ok(Ending::Lost("closed without a close frame".into())),
            },
            chunk = input.recv() => match chunk {
                Some(bytes) => match bytes.iter().position(|&b| b == escape) {
                    Some(at) => {
                        send(&mut ws, &bytes[..at]).await?;
                        break Ending::Detached;
                    }
                    None => send(&mut ws, &bytes).await?,
                },
                None => break Ending::InputEnded,
            },
            ending = signals.next() => break ending,
        }
    };
    // This side leaves: a normal close, and a moment for the proxy to answer it.
    let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        ws.close(Some(frame)).await?;
        while ws.next().await.is_some() {}
        Ok::<_, tokio_tungstenite::tungstenite::Error>(())
    })
    .await;
    Ok(ending)
}

async fn send(ws: &mut Console, bytes: &[u8]) -> anyhow::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    ws.send(Message::Binary(bytes.to_vec().into())).await.map_err(|e| anyhow::anyhow!("sending to the proxy: {e}"))
}

async fn write_out(stdout: &mut tokio::io::Stdout, bytes: &[u8]) -> anyhow::Result<()> {
    stdout.write_all(bytes).await?;
    stdout.flush().await?;
    Ok(())
}

/// Standard input, read on a thread of its own (a blocking read the runtime need not wait for
/// when the process exits), in chunks as they come; the channel closes at end of input.
fn read_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    rx
}

/// The signals that end a session through its normal way out (terminal restored, close sent).
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        let on = |kind| signal(kind).map_err(|e| anyhow::anyhow!("cannot handle signals: {e}"));
        Ok(Signals {
            term: on(SignalKind::terminate())?,
            hup: on(SignalKind::hangup())?,
            int: on(SignalKind::interrupt())?,
            quit: on(SignalKind::quit())?,
        })
    }

    async fn next(&mut self) -> Ending {
        tokio::select! {
            _ = self.term.recv() => Ending::Signal("SIGTERM", 15),
            _ = self.hup.recv() => Ending::Signal("SIGHUP", 1),
            _ = self.int.recv() => Ending::Signal("SIGINT", 2),
            _ = self.quit.recv() => Ending::Signal("SIGQUIT", 3),
        }
    }
}
