//! The browser's side of a view-only session, filtered: after ClientInit (its shared flag forced
//! on, so several viewers can watch while one user drives), only what viewing needs reaches the VNC
//! server — SetPixelFormat, SetEncodings, FramebufferUpdateRequest, and the flow control that
//! comes with them (EnableContinuousUpdates, Fence). Keys, pointer events, clipboard text, desktop
//! resizes, QEMU's extended keys and xvp's reboot requests are dropped. Anything malformed, or a
//! message type this filter does not know, is an error (the proxy closes with 1002).
//!
//! Sans-io and streaming: input comes in pieces of any size; a dropped message's payload (a long
//! clipboard text) is skipped as it arrives, never buffered; a kept message is at most a few KiB.

use crate::messages::MAX_ENCODINGS;
use crate::InvalidMessage;

/// Largest message kept whole: SetEncodings with the most encodings allowed.
const MAX_KEPT: usize = 4 + 4 * MAX_ENCODINGS;

/// What to do with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Pass,
    Drop,
}

/// Where the filter is in the browser's byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The one-byte ClientInit comes first (the security handshake is behind the proxy).
    ExpectClientInit,
    /// Client messages.
    Messages,
    /// Skipping this many bytes of a dropped message.
    Skip(u64),
}

/// The filter for one session.
#[derive(Debug)]
pub struct ViewOnlyFilter {
    state: State,
    /// A kept message not yet complete.
    pending: Vec<u8>,
    /// Messages dropped so far.
    dropped: u64,
}

impl Default for ViewOnlyFilter {
    fn default() -> Self {
        ViewOnlyFilter { state: State::ExpectClientInit, pending: Vec::new(), dropped: 0 }
    }
}

impl ViewOnlyFilter {
    /// A filter that starts at ClientInit.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many input messages were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Takes the browser's next bytes and appends to `out` what may reach the server.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), InvalidMessage> {
        while !input.is_empty() {
            match self.state {
                State::ExpectClientInit => {
                    out.push(1); // shared: never disconnect the other viewers or the driver
                    input = &input[1..];
                    self.state = State::Messages;
                }
                State::Skip(n) => {
                    let take = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                    input = &input[take..];
                    self.state = if n == take as u64 { State::Messages } else { State::Skip(n - take as u64) };
                }
                State::Messages => {
                    let room = MAX_KEPT.saturating_sub(self.pending.len());
                    let take = input.len().min(room.max(1));
                    self.pending.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    self.drain(out)?;
                }
            }
        }
        Ok(())
    }

    /// Handles the complete messages in `pending`.
    fn drain(&mut self, out: &mut Vec<u8>) -> Result<(), InvalidMessage> {
        let mut at = 0;
        while self.state == State::Messages && at < self.pending.len() {
            match measure(&self.pending[at..])? {
                Measure::Incomplete => break,
                Measure::Whole(len, Verdict::Pass) => {
                    out.extend_from_slice(&self.pending[at..at + len]);
                    at += len;
                }
                Measure::Whole(len, Verdict::Drop) => {
                    self.dropped += 1;
                    at += len;
                }
                Measure::DropWithPayload { header, payload } => {
                    self.dropped += 1;
                    let here = (self.pending.len() - at - header) as u64;
                    if payload <= here {
                        at += header + payload as usize;
                    } else {
                        at = self.pending.len();
                        self.state = State::Skip(payload - here);
                    }
                }
            }
        }
        self.pending.drain(..at);
        if self.state == State::Messages && self.pending.len() >= MAX_KEPT {
            return Err(InvalidMessage::MessageTooLarge { what: "client message", len: self.pending.len(), max: MAX_KEPT });
        }
        Ok(())
    }
}

/// How long the message at the start of `buf` is.
enum Measure {
    /// Not all of it is here yet.
    Incomplete,
    /// `len` bytes, kept or dropped.
    Whole(usize, Verdict),
    /// Dropped: a header, then a payload that may be long (skipped as it comes).
    DropWithPayload { header: usize, payload: u64 },
}

fn measure(buf: &[u8]) -> Result<Measure, InvalidMessage> {
    let at = |i: usize| buf.get(i).copied();
    let u16_at = |i: usize| Some(u16::from_be_bytes([at(i)?, at(i + 1)?]));
    let u32_at = |i: usize| Some(u32::from_be_bytes([at(i)?, at(i + 1)?, at(i + 2)?, at(i + 3)?]));
    let whole = |len: usize, v: Verdict| if buf.len() >= len { Measure::Whole(len, v) } else { Measure::Incomplete };
    let Some(kind) = at(0) else { return Ok(Measure::Incomplete) };
    Ok(match kind {
        0 => whole(20, Verdict::Pass), // SetPixelFormat
        2 => match u16_at(2) {
            // SetEncodings
            Some(n) if usize::from(n) > MAX_ENCODINGS => {
                return Err(InvalidMessage::MessageTooLarge { what: "encoding list", len: n.into(), max: MAX_ENCODINGS })
            }
            Some(n) => whole(4 + 4 * usize::from(n), Verdict::Pass),
            None => Measure::Incomplete,
        },
        3 => whole(10, Verdict::Pass), // FramebufferUpdateRequest
        4 => whole(8, Verdict::Drop),  // KeyEvent
        5 => whole(6, Verdict::Drop),  // PointerEvent
        6 => match u32_at(4) {
            // ClientCutText (extended clipboard too: a negative length is still a length here)
            Some(len) => Measure::DropWithPayload { header: 8, payload: u64::from(len & 0x7fff_ffff) },
            None => Measure::Incomplete,
        },
        150 => whole(10, Verdict::Pass), // EnableContinuousUpdates
        248 => match at(8) {
            // Fence: flags, then a payload of at most 64 bytes
            Some(n) if n > 64 => return Err(InvalidMessage::MessageTooLarge { what: "fence payload", len: n.into(), max: 64 }),
            Some(n) => whole(9 + usize::from(n), Verdict::Pass),
            None => Measure::Incomplete,
        },
        250 => whole(4, Verdict::Drop), // xvp: shutdown, reboot, reset
        251 => match at(6) {
            // SetDesktopSize: resizes the guest's screen
            Some(screens) => whole(8 + 16 * usize::from(screens), Verdict::Drop),
            None => Measure::Incomplete,
        },
        255 => match (at(1), u16_at(2)) {
            // QEMU: extended key event (0), audio (1)
            (Some(0), _) => whole(12, Verdict::Drop),
            (Some(1), Some(0 | 1)) => whole(4, Verdict::Drop),
            (Some(1), Some(2)) => whole(10, Verdict::Drop),
            (None, _) | (Some(1), None) => Measure::Incomplete,
            (Some(sub), _) => return Err(InvalidMessage::UnknownMessageType(sub)),
        },
        other => return Err(InvalidMessage::UnknownMessageType(other)),
    })
}

#[cfg(test)]
mod tests;
