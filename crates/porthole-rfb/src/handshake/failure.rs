//! How a handshake fails: who misbehaved, a line for the log, and the bytes that tell the
//! browser (an RFB failure reason it can show) and the server.

use super::TenantStage;
use crate::messages::encode_security_result;

/// The reason the browser sees for anything that went wrong with the server.
pub const GENERIC: &str = "Unable to negotiate security with the VNC server";
/// The reason the browser sees when the server refused our credentials.
pub const AUTH_FAILED: &str = "Authentication to the VNC server failed";

/// Who caused a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Culprit {
    /// The VNC server (or its configuration).
    Server,
    /// The browser.
    Tenant,
}

/// A failed handshake.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{log}")]
pub struct Failure {
    /// Who misbehaved.
    pub culprit: Culprit,
    /// What failed, for the log (may quote the server's reason; never a password).
    pub log: String,
    /// Bytes to send the browser so it can show a reason, if it can still read one.
    pub to_tenant: Option<Vec<u8>>,
    /// Bytes to send the server before closing (a refused security type, as Nova does).
    pub to_server: Option<Vec<u8>>,
}

/// The bytes that tell the tenant `reason` at its stage.
pub(super) fn tenant_failure(stage: TenantStage, reason: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if stage == TenantStage::Nothing {
        crate::ProtocolVersion::V3_8.encode(&mut out);
    }
    match stage {
        TenantStage::Nothing | TenantStage::VersionSent => {
            out.push(0);
            out.extend_from_slice(&(reason.len() as u32).to_be_bytes());
            out.extend_from_slice(reason.as_bytes());
        }
        TenantStage::TypesSent => encode_security_result(&mut out, Some(reason)),
    }
    out
}

pub(super) fn fail(stage: TenantStage, culprit: Culprit, log: String, reason: &str) -> Failure {
    Failure { culprit, log, to_tenant: Some(tenant_failure(stage, reason)), to_server: None }
}
