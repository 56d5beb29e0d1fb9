//! A minimal WebSocket client for benchmarks: the upgrade by hand, then frames parsed straight from
//! the socket into the caller's buffer, so the measuring client is not what limits throughput.
//! Client frames are masked with a zero key (allowed by RFC 6455, and free to apply). `wss://` URLs
//! go through rustls, trusting the CA bundle named by `RFB_CA` (PEM).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};

use tokio::net::TcpStream;

/// The connection under the WebSocket: plain or TLS.
enum Io {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A TLS client trusting the PEM bundle `ca` (or the one named by `RFB_CA`).
fn tls_connector(ca: Option<&std::path::Path>) -> io::Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::pem::PemObject as _;
    let ca = match ca {
        Some(ca) => ca.to_owned(),
        None => std::env::var_os("RFB_CA").ok_or_else(|| io::Error::other("wss:// needs RFB_CA=the CA bundle (PEM)"))?.into(),
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(&ca).map_err(io::Error::other)? {
        roots.add(cert.map_err(io::Error::other)?).map_err(io::Error::other)?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)))
}

/// A connected WebSocket as a byte stream of binary payloads.
pub struct RawWs {
    tcp: Io,
    /// Payload bytes left in the current frame.
    left: u64,
    /// Header bytes gathered so far.
    head: Vec<u8>,
    /// Frames written but not yet sent.
    out: Vec<u8>,
    /// Scratch for payload reads.
    scratch: Vec<u8>,
}

impl RawWs {
    /// Upgrades `ws://host:port/path?query` (or `wss://`, trusting the CA bundle that `RFB_CA`
    /// names); fails on any status but 101.
    pub async fn connect(url: &str) -> io::Result<RawWs> {
        Self::connect_with_ca(url, None).await
    }

    /// [`connect`](Self::connect), trusting the CA bundle `ca` for `wss://`.
    pub async fn connect_with_ca(url: &str, ca: Option<&std::path::Path>) -> io::Result<RawWs> {
        let (tls, rest) = match (url.strip_prefix("ws://"), url.strip_prefix("wss://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => return Err(io::Error::other("ws:// or wss:// only")),
        };
        let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
        let plain = TcpStream::connect(authority).await?;
        plain.set_nodelay(true)?;
        let mut tcp = if tls {
            let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h).trim_matches(|c| c == '[' || c == ']');
            let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(io::Error::other)?;
            Io::Tls(Box::new(tls_connector(ca)?.connect(name, plain).await?))
        } else {
            Io::Tcp(plain)
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: binary\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await?;
        let mut resp = Vec::new();
        while !resp.ends_with(b"\r\n\r\n") {
            resp.push(tcp.read_u8().await?);
            if resp.len() > 8192 {
                return Err(io::Error::other("response head too long"));
            }
        }
        if !resp.starts_with(b"HTTP/1.1 101") {
            return Err(io::Error::other(format!("upgrade refused: {}", String::from_utf8_lossy(&resp))));
        }
        Ok(RawWs { tcp, left: 0, head: Vec::with_capacity(14), out: Vec::new(), scratch: vec![0; 256 * 1024] })
    }

    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.out))?;
            self.out.drain(..n);
        }
        Poll::Ready(Ok(()))
    }

    /// The header length once `head` holds enough to know it.
    fn header_len(head: &[u8]) -> Option<usize> {
        let b1 = *head.get(1)?;
        Some(
            2 + match b1 & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            } + if b1 & 0x80 != 0 { 4 } else { 0 },
        )
    }
}

impl AsyncRead for RawWs {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.left > 0 {
                let want = (this.left as usize).min(buf.remaining()).min(this.scratch.len());
                let mut rb = ReadBuf::new(&mut this.scratch[..want]);
                ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut rb))?;
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                buf.put_slice(rb.filled());
                this.left -= n as u64;
                return Poll::Ready(Ok(()));
            }
            // Read one header byte at a time until the header is complete (headers are tiny).
            let mut one = [0u8; 1];
            let mut rb = ReadBuf::new(&mut one);
            ready!(Pin::new(&mut this.tcp).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                return Poll::Ready(Ok(())); // EOF
            }
            this.head.push(one[0]);
            if let Some(len) = Self::header_len(&this.head) {
                if this.head.len() == len {
                    let h = std::mem::take(&mut this.head);
                    let opcode = h[0] & 0x0f;
                    let payload = match h[1] & 0x7f {
                        126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
                        127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
                        n => u64::from(n),
                    };
                    if opcode == 0x8 {
                        return Poll::Ready(Ok(())); // close: EOF
                    }
                    this.left = payload;
                }
            }
        }
    }
}

impl AsyncWrite for RawWs {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.out.len() > 64 * 1024 {
            ready!(this.poll_send(cx))?;
        }
        this.out.push(0x82);
        match data.len() {
            n if n < 126 => this.out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                this.out.push(0x80 | 126);
                this.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                this.out.push(0x80 | 127);
                this.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        this.out.extend_from_slice(&[0, 0, 0, 0]);
        this.out.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}
