// The keys a browser or the OS keeps for itself, sent from buttons (Esc, Tab, Ctrl/Alt/Super held for
// the next key, Ctrl-Alt-Del, Ctrl-Alt-F1…F12), and the on-screen keyboard of touch devices. Every key
// goes through noVNC's RFB.sendKey with its physical key code, so noVNC sends QEMU extended key events
// (scancodes) whenever the server offers them, and the machine's own keyboard layout applies.
import KeyTable from './novnc/core/input/keysym.js';
import keysyms from './novnc/core/input/keysymdef.js';
import Keyboard from './novnc/core/input/keyboard.js';

const MODIFIERS = {
    Control: { keysym: KeyTable.XK_Control_L, code: 'ControlLeft' },
    Alt: { keysym: KeyTable.XK_Alt_L, code: 'AltLeft' },
    Super: { keysym: KeyTable.XK_Super_L, code: 'MetaLeft' },
};
const KEYS = {
    Escape: { keysym: KeyTable.XK_Escape, code: 'Escape' },
    Tab: { keysym: KeyTable.XK_Tab, code: 'Tab' },
};
// KeyboardEvent.code values of modifier keys: pressing one does not "use up" a held toggle.
const MODIFIER_CODE = /^(Control|Alt|Shift|Meta|OS)(Left|Right)$|^(AltGraph|CapsLock)$/;

const keyboardUp = () => document.activeElement?.id === 'keyboard-input';
const functionKey = (n) => ({ keysym: KeyTable.XK_F1 + n - 1, code: `F${n}` });

/**
 * The extra-keys bar. Ctrl, Alt and Super are toggles: pressing one holds that modifier down on the
 * machine until the next other key (from the bar, the keyboard or the on-screen keyboard) has been
 * sent, then releases it. `rfb()` returns the current connection (a new one after each reconnect).
 */
export class ExtraKeys {
    constructor(bar, rfb) {
        this.bar = bar;
        this.rfb = rfb;
        this.held = new Set(); // names of MODIFIERS pressed on the machine by a toggle
        this.buildFunctionKeys(bar.querySelector('#fkeys .panel'));
        bar.addEventListener('click', (e) => this.onClick(e));
        // While the on-screen keyboard is up, the bar's buttons must not take the focus from its field
        // (the keyboard would go down at every key).
        for (const type of ['pointerdown', 'mousedown']) {
            bar.addEventListener(type, (e) => { if (keyboardUp()) e.preventDefault(); });
        }
        // A key typed on the screen (or in the on-screen keyboard's field) uses up the toggles; noVNC
        // sends that key's release from its own keyup handler, so ours runs just after it.
        document.addEventListener('keyup', (e) => {
            if (this.held.size && !MODIFIER_CODE.test(e.code) && (e.target.tagName === 'CANVAS' || e.target.id === 'keyboard-input')) {
                setTimeout(() => this.releaseHeld(), 0);
            }
        }, true);
    }

    buildFunctionKeys(panel) {
        for (let n = 1; n <= 12; n++) {
            const b = document.createElement('button');
            Object.assign(b, { type: 'button', textContent: `F${n}`, title: `Ctrl-Alt-F${n}`, className: 'needs-session' });
            b.dataset.fkey = String(n);
            panel.append(b);
        }
    }

    onClick(e) {
        const b = e.target.closest('button');
        if (!b || !this.rfb()) return;
        if (b.dataset.mod) this.toggle(b.dataset.mod, b);
        else if (b.dataset.key) this.tap(KEYS[b.dataset.key]);
        else if (b.dataset.fkey) {
            this.combo([MODIFIERS.Control, MODIFIERS.Alt], functionKey(Number(b.dataset.fkey)));
            b.closest('details').open = false;
        } else if (b.id === 'ctrlaltdel') this.combo([MODIFIERS.Control, MODIFIERS.Alt], { keysym: KeyTable.XK_Delete, code: 'Delete' });
        else return;
        if (!keyboardUp()) this.rfb().focus({ preventScroll: true });
    }

    toggle(name, button) {
        const { keysym, code } = MODIFIERS[name];
        const down = !this.held.has(name);
        this.rfb().sendKey(keysym, code, down);
        if (down) this.held.add(name); else this.held.delete(name);
        button.setAttribute('aria-pressed', String(down));
    }

    /** A key pressed and released, with the held toggles applied; then the toggles are released. */
    tap({ keysym, code }) {
        this.rfb().sendKey(keysym, code);
        this.releaseHeld();
    }

    /** `mods` down, `key` pressed, `mods` up (a modifier already held by a toggle is left to it). */
    combo(mods, key) {
        const rfb = this.rfb();
        const press = mods.filter((m) => ![...this.held].some((h) => MODIFIERS[h] === m));
        for (const m of press) rfb.sendKey(m.keysym, m.code, true);
        rfb.sendKey(key.keysym, key.code);
        for (const m of press.reverse()) rfb.sendKey(m.keysym, m.code, false);
        this.releaseHeld();
    }

    releaseHeld() {
        const rfb = this.rfb();
        for (const name of this.held) {
            if (rfb) rfb.sendKey(MODIFIERS[name].keysym, MODIFIERS[name].code, false);
            this.bar.querySelector(`[data-mod="${name}"]`).setAttribute('aria-pressed', 'false');
        }
        this.held.clear();
    }

    /** A new connection starts with nothing held. */
    reset() {
        this.held.clear();
        for (const b of this.bar.querySelectorAll('[data-mod]')) b.setAttribute('aria-pressed', 'false');
    }
}

// What the on-screen keyboard's field holds between keys, so that Backspace always has something
// to delete and the field's change tells what was typed.
const FILLER = '________';

/**
 * The on-screen keyboard of touch devices: the button focuses a hidden text field, which makes the
 * device raise its keyboard (as noVNC's vnc.html does). Keys with a key code (hardware keyboards,
 * most desktop-like soft keyboards) go through noVNC's Keyboard like keys on the screen; text that
 * arrives only as `input` events (Android keyboards, IMEs, autocorrect) is sent as keysyms, one
 * character at a time, with Backspaces for what was taken back.
 */
export class TouchKeyboard {
    constructor({ button, input, rfb, afterText }) {
        Object.assign(this, { button, input, rfb, afterText });
        this.last = FILLER;
        this.keyboard = new Keyboard(input);
        this.keyboard.onkeyevent = (keysym, code, down) => this.rfb()?.sendKey(keysym, code, down);
        this.keyboard.grab();
        input.addEventListener('input', () => this.onInput());
        input.addEventListener('focus', () => this.shown(true));
        input.addEventListener('blur', () => this.shown(false));
        // Tapping the button must not take the focus (and the keyboard) away from the field first.
        button.addEventListener('pointerdown', (e) => e.preventDefault());
        button.addEventListener('mousedown', (e) => e.preventDefault());
        button.addEventListener('click', () => this.toggle());
        this.reset();
    }

    toggle() {
        if (document.activeElement === this.input) {
            this.input.blur();
        } else {
            this.input.focus({ preventScroll: true });
            this.input.setSelectionRange(this.input.value.length, this.input.value.length);
        }
    }

    shown(up) {
        this.button.setAttribute('aria-pressed', String(up));
        // While the keyboard is up, a tap on the screen is a click there, not a reason to move the
        // focus to the screen (which would hide the keyboard).
        const rfb = this.rfb();
        if (rfb) rfb.focusOnClick = !up;
    }

    reset() {
        this.input.value = FILLER;
        this.last = FILLER;
    }

    onInput() {
        const rfb = this.rfb();
        const before = Array.from(this.last);
        const now = Array.from(this.input.value);
        let same = 0;
        while (same < before.length && same < now.length && before[same] === now[same]) same++;
        if (rfb) {
            for (let i = same; i < before.length; i++) rfb.sendKey(KeyTable.XK_BackSpace, 'Backspace');
            for (const ch of now.slice(same)) {
                if (ch === '\n') rfb.sendKey(KeyTable.XK_Return, 'Enter');
                else rfb.sendKey(keysyms.lookup(ch.codePointAt(0)));
            }
            this.afterText();
        }
        if (now.length < 2 || now.length > 4 * FILLER.length) this.reset();
        else this.last = this.input.value;
    }
}
