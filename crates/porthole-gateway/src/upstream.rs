//! Connecting to VNC servers: the time limit; the connection itself is the compute role's
//! ([`porthole_compute::upstream`]), which also knows sockets handed over by libvirt.

use std::time::Duration;

pub use porthole_compute::upstream::{connect_tcp, Upstream};

/// Default time allowed to reach a VNC server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
