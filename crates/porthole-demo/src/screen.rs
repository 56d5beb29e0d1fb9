//! The demo's framebuffer: a recognisable test screen, the text typed so far, and dirty tracking.

use font8x8::legacy::BASIC_LEGACY;

/// Demo framebuffer width.
pub(crate) const WIDTH: u16 = 800;
/// Demo framebuffer height.
pub(crate) const HEIGHT: u16 = 600;

const TEXT_TOP: u16 = 260;
const TEXT_SCALE: u16 = 3;
const TEXT_LINES: usize = 4;
const LINE_CHARS: usize = 32;
const FOOTER_TOP: u16 = 560;

/// An axis-aligned rectangle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rect {
    /// Left.
    pub(crate) x: u16,
    /// Top.
    pub(crate) y: u16,
    /// Width.
    pub(crate) w: u16,
    /// Height.
    pub(crate) h: u16,
}

impl Rect {
    /// The overlap of two rectangles, if any.
    pub(crate) fn intersect(&self, o: &Rect) -> Option<Rect> {
        let (x0, y0) = (self.x.max(o.x), self.y.max(o.y));
        let x1 = (u32::from(self.x) + u32::from(self.w)).min(u32::from(o.x) + u32::from(o.w));
        let y1 = (u32::from(self.y) + u32::from(self.h)).min(u32::from(o.y) + u32::from(o.h));
        (x1 > u32::from(x0) && y1 > u32::from(y0)).then(|| Rect {
            x: x0,
            y: y0,
            w: (x1 - u32::from(x0)) as u16,
            h: (y1 - u32::from(y0)) as u16,
        })
    }

    fn union(&self, o: &Rect) -> Rect {
        let (x0, y0) = (self.x.min(o.x), self.y.min(o.y));
        let x1 = (self.x + self.w).max(o.x + o.w);
        let y1 = (self.y + self.h).max(o.y + o.h);
        Rect { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
    }
}

/// What the demo shows to one viewer.
pub(crate) struct Screen {
    pixels: Vec<(u8, u8, u8)>,
    lines: Vec<String>,
    keys: u64,
    dirty: Option<Rect>,
}

impl Default for Screen {
    fn default() -> Self {
        Self::new()
    }
}

impl Screen {
    /// The initial screen.
    pub(crate) fn new() -> Self {
        let mut s =
            Screen { pixels: vec![(0, 0, 0); usize::from(WIDTH) * usize::from(HEIGHT)], lines: vec![String::new()], keys: 0, dirty: None };
        s.draw_static();
        s.draw_text();
        s.dirty = None;
        s
    }

    /// The whole framebuffer.
    pub(crate) fn full() -> Rect {
        Rect { x: 0, y: 0, w: WIDTH, h: HEIGHT }
    }

    /// The pixel at (x, y) as 8-bit RGB.
    pub(crate) fn pixel(&self, x: u16, y: u16) -> (u8, u8, u8) {
        self.pixels[usize::from(y) * usize::from(WIDTH) + usize::from(x)]
    }

    /// Takes the region changed since the last call.
    pub(crate) fn take_dirty(&mut self) -> Option<Rect> {
        self.dirty.take()
    }

    /// Applies a key press (X11 keysym): printable characters append, BackSpace deletes,
    /// Return starts a new line, Escape clears.
    pub(crate) fn key(&mut self, keysym: u32) {
        self.keys += 1;
        match keysym {
            0x20..=0x7e => self.push_char(char::from(keysym as u8)),
            0xa0..=0xff => self.push_char('?'),
            0xff08 if self.lines.last_mut().and_then(String::pop).is_none() && self.lines.len() > 1 => {
                self.lines.pop();
            }
            0xff0d | 0xff8d => self.new_line(),
            0xff1b => self.lines = vec![String::new()],
            _ => {}
        }
        self.draw_text();
    }

    fn push_char(&mut self, c: char) {
        if self.lines.last().is_some_and(|l| l.len() >= LINE_CHARS) {
            self.new_line();
        }
        if let Some(l) = self.lines.last_mut() {
            l.push(c);
        }
    }

    fn new_line(&mut self) {
        self.lines.push(String::new());
        if self.lines.len() > TEXT_LINES {
            self.lines.remove(0);
        }
    }

    fn draw_static(&mut self) {
        for y in 0..HEIGHT {
            let t = (u32::from(y) * 255 / u32::from(HEIGHT)) as u8;
            self.fill(Rect { x: 0, y, w: WIDTH, h: 1 }, (12, 20 + t / 6, 40 + t / 4));
        }
        self.fill(Rect { x: 0, y: 0, w: WIDTH, h: 84 }, (232, 110, 30));
        self.text(24, 26, 4, "PORTHOLE DEMO CONSOLE", (255, 255, 255));
        self.text(24, 104, 2, "RFB 3.8 through Porthole's proxy", (220, 230, 240));
        let bars = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)];
        for (i, c) in bars.iter().enumerate() {
            self.fill(Rect { x: 24 + i as u16 * 94, y: 140, w: 90, h: 60 }, *c);
        }
        self.text(24, 224, 2, "Type here (Enter: new line, Esc: clear):", (255, 220, 120));
    }

    fn draw_text(&mut self) {
        let area = Rect { x: 16, y: TEXT_TOP - 8, w: WIDTH - 32, h: TEXT_LINES as u16 * 8 * TEXT_SCALE + 24 + 16 };
        self.fill(area, (250, 250, 245));
        let lines = self.lines.clone();
        for (i, line) in lines.iter().enumerate() {
            let y = TEXT_TOP + i as u16 * (8 * TEXT_SCALE + 8);
            let cursor = if i + 1 == lines.len() { "_" } else { "" };
            self.text(24, y, TEXT_SCALE, &format!("{line}{cursor}"), (20, 30, 60));
        }
        let footer = Rect { x: 0, y: FOOTER_TOP, w: WIDTH, h: 24 };
        self.fill(footer, (30, 30, 30));
        self.text(24, FOOTER_TOP + 4, 2, &format!("key events: {}", self.keys), (180, 255, 180));
        self.mark(area);
        self.mark(footer);
    }

    fn mark(&mut self, r: Rect) {
        self.dirty = Some(self.dirty.map_or(r, |d| d.union(&r)));
    }

    fn fill(&mut self, r: Rect, c: (u8, u8, u8)) {
        for y in r.y..(r.y + r.h).min(HEIGHT) {
            let row = usize::from(y) * usize::from(WIDTH);
            let (a, b) = (row + usize::from(r.x), row + usize::from((r.x + r.w).min(WIDTH)));
            self.pixels[a..b].fill(c);
        }
    }

    fn text(&mut self, x: u16, y: u16, scale: u16, s: &str, c: (u8, u8, u8)) {
        for (i, ch) in s.bytes().enumerate() {
            let glyph = BASIC_LEGACY[usize::from(ch & 0x7f)];
            let gx = x + i as u16 * 8 * scale;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8u16 {
                    if bits >> col & 1 == 1 {
                        let r = Rect { x: gx + col * scale, y: y + row as u16 * scale, w: scale, h: scale };
                        if r.x + r.w <= WIDTH && r.y + r.h <= HEIGHT {
                            self.fill(r, c);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_changes_the_text_area_and_marks_it_dirty() {
        let mut s = Screen::new();
        assert_eq!(s.take_dirty(), None);
        let before: Vec<_> = (0..WIDTH).map(|x| s.pixel(x, TEXT_TOP + 4)).collect();
        for k in b"hello" {
            s.key(u32::from(*k));
        }
        let after: Vec<_> = (0..WIDTH).map(|x| s.pixel(x, TEXT_TOP + 4)).collect();
        assert_ne!(before, after);
        let d = s.take_dirty().unwrap();
        assert!(d.y <= TEXT_TOP && d.y + d.h >= FOOTER_TOP);
        assert_eq!(s.lines, ["hello"]);
        s.key(0xff08);
        s.key(0xff0d);
        s.key(u32::from(b'x'));
        assert_eq!(s.lines, ["hell", "x"]);
        s.key(0xff1b);
        assert_eq!(s.lines, [""]);
    }

    #[test]
    fn long_input_wraps_and_scrolls() {
        let mut s = Screen::new();
        for _ in 0..(LINE_CHARS * 6) {
            s.key(u32::from(b'a'));
        }
        assert_eq!(s.lines.len(), TEXT_LINES);
        assert!(s.lines.iter().all(|l| l.len() <= LINE_CHARS));
    }

    #[test]
    fn rect_intersection() {
        let a = Rect { x: 0, y: 0, w: 10, h: 10 };
        assert_eq!(a.intersect(&Rect { x: 5, y: 5, w: 10, h: 10 }), Some(Rect { x: 5, y: 5, w: 5, h: 5 }));
        assert_eq!(a.intersect(&Rect { x: 10, y: 0, w: 5, h: 5 }), None);
    }
}
