//! The floor any proxy is judged against: a bare TCP relay (tokio's `copy_bidirectional` with
//! 256 KiB buffers each way; no WebSocket, no token, no checks) from `LISTEN` to `TARGET`.
//! `tcp_relay LISTEN TARGET`, e.g. `tcp_relay 127.0.0.1:7000 127.0.0.1:5901`; runs until killed.

use tokio::net::{TcpListener, TcpStream};

/// Buffer each way, as the issue names the floor: 256 KiB.
const BUFFER: usize = 256 * 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(listen), Some(target)) = (args.first(), args.get(1)) else {
        eprintln!("usage: tcp_relay LISTEN TARGET");
        std::process::exit(2);
    };
    let listener = TcpListener::bind(listen).await?;
    let target = target.clone();
    loop {
        let (mut client, _) = listener.accept().await?;
        let target = target.clone();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(&target).await else { return };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let _ = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, BUFFER, BUFFER).await;
        });
    }
}
