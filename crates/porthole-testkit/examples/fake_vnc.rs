//! Runs the testkit's FakeVncServer (raw updates of the requested size, the same bytes each time so
//! the server costs next to nothing) until killed; prints its port.

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u16>().expect("usage: fake_vnc WIDTH HEIGHT"));
    let (w, h) = (args.next().unwrap_or(1920), args.next().unwrap_or(1080));
    let server = porthole_testkit::FakeVncServer::start_fixed(w, h).await;
    println!("{}", server.addr().port());
    std::future::pending::<()>().await;
}
