//! The compute role of Porthole: which instances exist and where their VNC servers are, on
//! libvirt nodes (through libvirt's own API, the `virt` crate) and as static targets.
//!
//! # Layout
//! - [`audit`]: the security audit of VNC listeners.
//! - [`instance`]: [`Instance`], [`InstanceState`], [`Endpoint`]: what the other crates see.
//! - [`inventory`]: the [`Inventory`] trait, static targets.
//! - [`domain_xml`]: `<graphics type='vnc'>` from domain XML.
//! - [`libvirt`]: a libvirt node, its connection and time limits.
//! - [`compute`]: [`Compute`], every node and target behind one [`Inventory`].
//! - [`events`]: domain lifecycle events (or polling) per node.
//! - [`serial`]: serial consoles: the device in domain XML, and a stream to it through libvirt.
//! - [`upstream`]: the connection to a VNC server, TCP or from libvirt ([`graphics_fd`]).
//! - [`error`]: the crate's error type.

#![warn(missing_docs)]

pub mod audit;
pub mod compute;
pub mod domain_xml;
pub mod error;
pub mod events;
pub mod graphics_fd;
pub mod instance;
pub mod inventory;
pub mod libvirt;
pub mod serial;
pub mod upstream;

pub use compute::Compute;
pub use error::{Error, Result};
pub use instance::{Endpoint, Instance, InstanceState};
pub use inventory::{HostPort, Inventory, LookupError, StaticTargets, Survey};
pub use serial::{ConsoleError, ConsoleStream, SerialConsole};
pub use upstream::Upstream;
