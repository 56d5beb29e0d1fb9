//! `ServerConnection` over in-memory streams: the testkit's RFB client on the other end, or a
//! client that misbehaves byte by byte.

#![allow(clippy::unwrap_used)]

use porthole_demo::{Error, ServerConnection};
use porthole_rfb::handshake::server::{ClientFault, Security, AUTH_FAILED};
use porthole_rfb::security::vnc_auth_response;
use porthole_rfb::{ClientMessage, PixelFormat, ServerInit};
use porthole_testkit::RfbClient;
use std::time::Duration;
use tokio::io::{duplex, AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

const TIMEOUT: Duration = Duration::from_secs(5);
const CHALLENGE: [u8; 16] = [42; 16];

fn init() -> ServerInit {
    ServerInit { width: 320, height: 200, pixel_format: PixelFormat::rgbx8888(), name: b"conn".to_vec() }
}

fn accept(io: DuplexStream, security: Security) -> tokio::task::JoinHandle<Result<ServerConnection<DuplexStream>, Error>> {
    tokio::spawn(ServerConnection::accept(io, security, init(), TIMEOUT))
}

#[tokio::test]
async fn the_testkit_client_gets_through_and_its_messages_arrive() {
    let (client, server) = duplex(4096);
    let server = accept(server, Security::None);
    let mut c = RfbClient::handshake(client).await.unwrap();
    assert_eq!(c.server_init, init());
    let mut conn = server.await.unwrap().unwrap();
    assert!(conn.shared());
    c.tap_key(0x61).await.unwrap();
    assert_eq!(conn.read_message().await.unwrap(), Some(ClientMessage::KeyEvent { down: true, key: 0x61 }));
    assert_eq!(conn.read_message().await.unwrap(), Some(ClientMessage::KeyEvent { down: false, key: 0x61 }));
    drop(c);
    assert_eq!(conn.read_message().await.unwrap(), None);
}

/// Reads `n` bytes from the server's side.
async fn read(io: &mut DuplexStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    io.read_exact(&mut buf).await.unwrap();
    buf
}

#[tokio::test]
async fn vnc_authentication_over_a_stream() {
    let (mut client, server) = duplex(4096);
    let server = accept(server, Security::VncAuth { password: b"secret".to_vec(), challenge: CHALLENGE });
    assert_eq!(read(&mut client, 12).await, b"RFB 003.008\n");
    client.write_all(b"RFB 003.008\n").await.unwrap();
    assert_eq!(read(&mut client, 2).await, [1, 2]);
    client.write_all(&[2]).await.unwrap();
    let challenge: [u8; 16] = read(&mut client, 16).await.try_into().unwrap();
    client.write_all(&vnc_auth_response(b"secret", &challenge)).await.unwrap();
    // SecurityResult OK, then ClientInit and a message sent before the ServerInit came.
    assert_eq!(read(&mut client, 4).await, [0, 0, 0, 0]);
    client.write_all(&[0, 4, 1, 0, 0, 0, 0, 0, 0x62]).await.unwrap();
    let mut conn = server.await.unwrap().unwrap();
    assert!(!conn.shared());
    assert_eq!(conn.read_message().await.unwrap(), Some(ClientMessage::KeyEvent { down: true, key: 0x62 }));
}

#[tokio::test]
async fn a_wrong_password_is_told_and_the_stream_closed() {
    let (mut client, server) = duplex(4096);
    let server = accept(server, Security::VncAuth { password: b"secret".to_vec(), challenge: CHALLENGE });
    client.write_all(b"RFB 003.008\n\x02").await.unwrap();
    client.write_all(&vnc_auth_response(b"guess", &CHALLENGE)).await.unwrap();
    let mut answer = Vec::new();
    client.read_to_end(&mut answer).await.unwrap();
    assert!(answer.ends_with(AUTH_FAILED.as_bytes()), "{answer:?}");
    assert!(matches!(server.await.unwrap(), Err(Error::Handshake(ClientFault::WrongPassword))));
}

#[tokio::test]
async fn a_client_that_leaves_or_stalls_in_the_handshake() {
    let (mut client, server) = duplex(4096);
    let server = accept(server, Security::None);
    read(&mut client, 12).await;
    client.write_all(b"RFB 003").await.unwrap();
    drop(client);
    assert!(matches!(server.await.unwrap(), Err(Error::ClosedInHandshake)));

    tokio::time::pause();
    let (_client, server) = duplex(4096);
    let err = ServerConnection::accept(server, Security::None, init(), TIMEOUT).await.unwrap_err();
    assert!(matches!(err, Error::HandshakeTimeout(t) if t == TIMEOUT), "{err}");
}

#[tokio::test]
async fn an_invalid_message_after_the_handshake_ends_the_connection() {
    let (client, server) = duplex(4096);
    let server = accept(server, Security::None);
    let mut c = RfbClient::handshake(client).await.unwrap();
    let mut conn = server.await.unwrap().unwrap();
    c.get_mut().write_all(&[99]).await.unwrap();
    let err = conn.read_message().await.unwrap_err();
    assert_eq!(err.to_string(), "the client sent an invalid message: unknown message type 99");
}
