//! The built-in demo VNC server (`porthole serve --demo`): RFB 3.8 (3.7 and 3.3 too), security
//! None, a test screen that shows the keys typed. It lets a newcomer see a console without any VM.
//!
//! Its handshake is `porthole-rfb`'s [`ServerHandshake`](porthole_rfb::handshake::ServerHandshake),
//! driven by [`ServerConnection`], which the testkit's fake VNC server uses as well.
//!
//! # Layout
//! - [`DemoServer`] (here): the listener and its accept loop, one task per client.
//! - [`connection`]: [`ServerConnection`], a client over any byte stream: handshake, then messages.
//! - `viewer`: what the demo does with one client's messages.
//! - `screen`: the framebuffer: test pattern, typed text, dirty tracking.
//! - [`error`]: [`Error`], why a client's connection ended.

#![warn(missing_docs)]

pub mod connection;
pub mod error;
mod screen;
mod viewer;

pub use connection::{ServerConnection, DEFAULT_HANDSHAKE_TIMEOUT};
pub use error::{Error, Result};

use porthole_rfb::handshake::server::Security;
use porthole_rfb::{PixelFormat, ServerInit};
use screen::{HEIGHT, WIDTH};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The desktop name clients show.
pub const DESKTOP_NAME: &str = "Porthole demo";

/// A running demo server; dropping it stops accepting (open connections end with their clients).
#[derive(Debug)]
pub struct DemoServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl DemoServer {
    /// Binds `addr` and serves until dropped.
    pub async fn start(addr: SocketAddr) -> io::Result<DemoServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((sock, peer)) => {
                        tokio::spawn(async move {
                            if let Err(e) = serve_client(sock).await {
                                tracing::debug!(%peer, cause = %e, "demo client left");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(cause = %e, "demo server accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(DemoServer { addr, accept })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn serve_client(sock: TcpStream) -> Result<()> {
    sock.set_nodelay(true)?;
    let init = ServerInit { width: WIDTH, height: HEIGHT, pixel_format: PixelFormat::rgbx8888(), name: DESKTOP_NAME.into() };
    // Every client gets its own screen, so the shared flag changes nothing here.
    let conn = ServerConnection::accept(sock, Security::None, init, DEFAULT_HANDSHAKE_TIMEOUT).await?;
    viewer::Viewer::new(conn).run().await
}
