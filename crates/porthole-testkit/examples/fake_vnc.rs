//! Runs the testkit's FakeVncServer (raw updates of the requested size, the same bytes each time so
//! the server costs next to nothing) until killed; prints its port.
//! `fake_vnc [WIDTH HEIGHT [PASSWORD]]`: with a password it offers only VNC authentication.

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: fake_vnc [WIDTH HEIGHT [PASSWORD]]";
    let dim = |i: usize, default: u16| args.get(i).map_or(default, |a| a.parse().expect(usage));
    let (w, h) = (dim(0, 1920), dim(1, 1080));
    let server = match args.get(2) {
        Some(pw) => porthole_testkit::FakeVncServer::start_fixed_with_password(w, h, pw.as_bytes()).await,
        None => porthole_testkit::FakeVncServer::start_fixed(w, h).await,
    };
    println!("{}", server.addr().port());
    std::future::pending::<()>().await;
}
