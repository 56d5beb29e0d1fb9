//! One client of a VNC server, over any byte stream: the server's handshake
//! ([`ServerHandshake`], sans-io in `porthole-rfb`) driven over the stream, then the client's
//! messages one at a time. The demo and the testkit's fake server serve their clients through it.

use crate::{Error, Result};
use bytes::{Buf as _, BytesMut};
use porthole_rfb::handshake::server::{Outcome, Security, ServerHandshake};
use porthole_rfb::{ClientMessage, Reader, ServerInit};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Default time a client has to finish the handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client past the handshake.
#[derive(Debug)]
pub struct ServerConnection<S> {
    io: S,
    /// Bytes read from the client and not yet decoded.
    input: BytesMut,
    shared: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ServerConnection<S> {
    /// Runs the handshake on `io`, asking for `security` and ending with `server_init`; the
    /// client has `timeout` to finish it. A client that breaks it is told why where RFB has a
    /// way to, and the stream is shut down.
    pub async fn accept(io: S, security: Security, server_init: ServerInit, timeout: Duration) -> Result<Self> {
        tokio::time::timeout(timeout, Self::handshake(io, security, server_init)).await.map_err(|_| Error::HandshakeTimeout(timeout))?
    }

    async fn handshake(mut io: S, security: Security, server_init: ServerInit) -> Result<Self> {
        let (mut hs, hello) = ServerHandshake::start(security, server_init);
        write(&mut io, &hello).await?;
        let mut input = BytesMut::with_capacity(256);
        loop {
            match hs.handle(&input) {
                Ok(Outcome::NeedMore(next)) => {
                    hs = next;
                    if io.read_buf(&mut input).await? == 0 {
                        return Err(Error::ClosedInHandshake);
                    }
                }
                Ok(Outcome::Progress { next, consumed, send }) => {
                    input.advance(consumed);
                    write(&mut io, &send).await?;
                    hs = next;
                }
                Ok(Outcome::Done { consumed, send, shared }) => {
                    input.advance(consumed);
                    write(&mut io, &send).await?;
                    return Ok(ServerConnection { io, input, shared });
                }
                Err(refusal) => {
                    // Telling the client is a courtesy: its fault is what ends the connection.
                    let _ = write(&mut io, &refusal.to_client).await;
                    let _ = io.shutdown().await;
                    return Err(refusal.fault.into());
                }
            }
        }
    }

    /// The ClientInit's shared flag: whether other clients may stay connected.
    pub fn shared(&self) -> bool {
        self.shared
    }

    /// The next client message; `None` once the client has closed the connection.
    pub async fn read_message(&mut self) -> Result<Option<ClientMessage>> {
        loop {
            let mut r = Reader::new(&self.input);
            match ClientMessage::read(&mut r) {
                Ok(msg) => {
                    let used = r.position();
                    self.input.advance(used);
                    return Ok(Some(msg));
                }
                Err(porthole_rfb::Error::Incomplete) => {}
                Err(e) => return Err(e.into()),
            }
            if self.io.read_buf(&mut self.input).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Writes server messages (already encoded) to the client.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        Ok(write(&mut self.io, bytes).await?)
    }
}

async fn write<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    io.write_all(bytes).await?;
    io.flush().await
}
