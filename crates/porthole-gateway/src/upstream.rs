//! Connecting to a VNC server: resolve, connect within a time limit, disable Nagle.

use std::io;
use std::time::Duration;
use tokio::net::TcpStream;

/// Default time allowed to reach a VNC server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a TCP connection to `host:port` with TCP_NODELAY set.
pub async fn connect_upstream(host: &str, port: u16, limit: Duration) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(limit, TcpStream::connect((host, port)))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("no answer within {limit:?}")))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}
