//! The local terminal of `porthole attach`: raw mode (restored on every way out: return, error,
//! panic; signals end the session through the normal path), the escape key, and the window size
//! a serial line cannot carry.

use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions, Termios};
use std::io;
use std::sync::{Mutex, PoisonError};

/// The terminal settings to put back, for the panic hook (a panic unwinds through [`RawMode`]'s
/// `Drop` too, but its message is printed first and should not come out in raw mode).
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Standard input in raw mode while this lives: every key goes to the guest as typed (Ctrl-C,
/// Ctrl-Z and Ctrl-\ included, as with `virsh console`), nothing is echoed locally.
#[derive(Debug)]
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts standard input in raw mode; `None` when it is not a terminal (then nothing changes).
    pub fn enter() -> io::Result<Option<RawMode>> {
        let stdin = io::stdin();
        if !rustix::termios::isatty(&stdin) {
            return Ok(None);
        }
        let saved = tcgetattr(&stdin)?;
        let mut raw = saved.clone();
        raw.make_raw();
        *SAVED.lock().unwrap_or_else(PoisonError::into_inner) = Some(saved.clone());
        install_panic_hook();
        tcsetattr(&stdin, OptionalActions::Now, &raw)?;
        Ok(Some(RawMode { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Drain: output the guest sent is written before the settings change back.
        let _ = tcsetattr(io::stdin(), OptionalActions::Drain, &self.saved);
        *SAVED.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(saved) = SAVED.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                let _ = tcsetattr(io::stdin(), OptionalActions::Now, saved);
            }
            previous(info);
        }));
    });
}

/// The terminal's size as `(rows, cols)`, when standard output (or input) is a terminal.
pub fn window_size() -> Option<(u16, u16)> {
    let size = tcgetwinsize(io::stdout()).or_else(|_| tcgetwinsize(io::stdin())).ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// The key that leaves the console, from `^]` (a control key, as `virsh console --escape`
/// writes it: `^` and one of `@`, `A`…`Z`, `[`, `\`, `]`, `^`, `_`, letters in either case)
/// or one printable ASCII character.
pub fn parse_escape(text: &str) -> Result<u8, String> {
    let bytes = text.as_bytes();
    match bytes {
        [b'^', c] if matches!(c.to_ascii_uppercase(), b'@'..=b'_') => Ok(c.to_ascii_uppercase() & 0x1f),
        [c] if c.is_ascii_graphic() => Ok(*c),
        _ => Err(format!("{text:?} is not an escape key: write ^] (Ctrl-]), ^X for another Ctrl key, or one printable character")),
    }
}

/// How an escape key reads: `^] (Ctrl + ])` or `~`.
pub fn describe_escape(key: u8) -> String {
    match key {
        0..=0x1f => {
            let c = char::from(key | 0x40);
            format!("^{c} (Ctrl + {c})")
        }
        _ => char::from(key).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keys_are_written_as_virsh_writes_them() {
        assert_eq!(parse_escape("^]"), Ok(0x1d));
        assert_eq!(parse_escape("^a"), Ok(0x01));
        assert_eq!(parse_escape("^X"), Ok(0x18));
        assert_eq!(parse_escape("^@"), Ok(0x00));
        assert_eq!(parse_escape("~"), Ok(b'~'));
        for bad in ["", "^]]", "ab", "^1", " ", "é"] {
            assert!(parse_escape(bad).is_err(), "{bad:?}");
        }
        assert_eq!(describe_escape(0x1d), "^] (Ctrl + ])");
        assert_eq!(describe_escape(0x01), "^A (Ctrl + A)");
        assert_eq!(describe_escape(b'~'), "~");
    }
}
