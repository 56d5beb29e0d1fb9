//! A WebSocket client for tests: [`ws_connect`] with extra headers, and [`WsIo`], which turns the
//! socket into a byte stream (binary messages) so [`RfbClient`](crate::RfbClient) runs over it.

use bytes::{Buf as _, Bytes};
use futures_util::{Sink, Stream};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Response};
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The client socket type.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket with extra request headers; a refusal before the upgrade is `Error::Http`.
pub async fn ws_connect(url: &str, headers: &[(&str, &str)]) -> Result<(WsStream, Response<Option<Vec<u8>>>), Error> {
    let mut req = url.into_client_request()?;
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| Error::HttpFormat(e.into()))?;
        let value = HeaderValue::from_str(v).map_err(|e| Error::HttpFormat(e.into()))?;
        req.headers_mut().insert(name, value);
    }
    tokio_tungstenite::connect_async(req).await
}

/// A WebSocket as `AsyncRead + AsyncWrite`: reads yield binary payloads, writes send one binary
/// message each. After the server's close frame, reads return EOF and
/// [`close_frame`](Self::close_frame) tells its code and reason.
pub struct WsIo {
    ws: WsStream,
    pending: Bytes,
    close: Option<(u16, String)>,
}

impl WsIo {
    pub fn new(ws: WsStream) -> Self {
        WsIo { ws, pending: Bytes::new(), close: None }
    }

    /// The server's close code and reason, once it has closed.
    pub fn close_frame(&self) -> Option<(u16, String)> {
        self.close.clone()
    }
}

impl AsyncRead for WsIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            if self.close.is_some() {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(b))) => self.pending = b,
                Some(Ok(Message::Close(f))) => {
                    self.close = Some(f.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new())));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io::Error::other)?;
        Pin::new(&mut self.ws).start_send(Message::binary(buf.to_vec())).map_err(io::Error::other)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io::Error::other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use crate::{FakeVncServer, RfbClient};

    #[tokio::test]
    async fn rfb_client_against_the_fake_server_over_tcp() {
        let server = FakeVncServer::start(64, 32).await;
        let tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let mut c = RfbClient::handshake(tcp).await.unwrap();
        assert_eq!((c.server_init.width, c.server_init.height), (64, 32));
        c.request_update(false, 0, 0, 64, 32).await.unwrap();
        let rects = c.read_update().await.unwrap();
        assert_eq!(rects.len(), 1);
        assert_eq!(rects[0].pixels.len(), 64 * 32 * 4);
        assert_eq!(&rects[0].pixels[4..8], &crate::server::pixel(1, 0, 0).to_le_bytes());
        c.tap_key(0x61).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(server.received().len(), 2);
    }
}
