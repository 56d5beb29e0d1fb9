//! A console socket straight from libvirt: `virDomainOpenGraphicsFD` with the skip-auth flag hands
//! back one end of a socket pair connected to QEMU's VNC server, which then offers security None
//! even when the domain has a VNC password, and needs no VNC port at all.

// The `virt` crate returns the socket as a raw descriptor; taking ownership of it is the one unsafe
// step here.
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd as _, OwnedFd, RawFd};

/// `VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH`: QEMU does not ask this client for the VNC password.
pub const SKIP_AUTH: u32 = 1;

/// Wraps the descriptor libvirt returned as a non-blocking std socket.
pub fn socket_from_libvirt(fd: u32) -> std::io::Result<std::os::unix::net::UnixStream> {
    let raw = RawFd::try_from(fd).map_err(|_| std::io::Error::other(format!("libvirt returned descriptor {fd}")))?;
    // SAFETY: virDomainOpenGraphicsFD returned a fresh descriptor that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
    let stream = std::os::unix::net::UnixStream::from(owned);
    stream.set_nonblocking(true)?;
    Ok(stream)
}
