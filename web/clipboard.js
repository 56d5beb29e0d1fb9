// The clipboard both ways. From the machine: noVNC's `clipboard` event fills the panel and, where the
// browser allows it, this computer's clipboard (async Clipboard API). To the machine: the panel's text
// on "Send", this computer's clipboard on "Paste from this computer", and by itself whenever the
// console gets the focus if the browser has already granted clipboard reading.

const api = () => (window.isSecureContext && navigator.clipboard) || null;

async function readGranted() {
    try {
        return (await navigator.permissions.query({ name: 'clipboard-read' })).state === 'granted';
    } catch {
        return false; // a browser that does not know this permission (Firefox) never reads by itself
    }
}

export class ClipboardBridge {
    /** `rfb()` returns the current connection, or null between connections. */
    constructor({ text, send, pasteLocal, note, screen, rfb }) {
        Object.assign(this, { text, note, rfb });
        this.synced = null; // the last text both sides are known to hold: never echoed back
        // What this computer's clipboard held when last read or written: only a change there (the
        // user copied something here) is sent, never an older text over a newer one from the machine.
        this.localSeen = null;
        send.addEventListener('click', () => this.toMachine(text.value, 'Sent to the machine.'));
        if (api()?.readText) {
            pasteLocal.hidden = false;
            pasteLocal.addEventListener('click', () => this.pasteLocal());
            screen.addEventListener('focusin', () => this.syncFromLocal());
        }
    }

    /** The machine's clipboard changed. */
    fromMachine(value) {
        this.text.value = value;
        this.synced = value;
        if (api()?.writeText && document.hasFocus()) {
            api().writeText(value).then(() => { this.localSeen = value; this.say('Copied from the machine to this computer.'); },
                () => this.say('Copied from the machine (this browser keeps its clipboard to itself: copy it from here).'));
        }
    }

    toMachine(value, said) {
        const rfb = this.rfb();
        if (!rfb || rfb.viewOnly) return;
        rfb.clipboardPasteFrom(value);
        this.text.value = value;
        this.synced = value;
        this.say(said);
    }

    async pasteLocal() {
        try {
            const value = await api().readText();
            this.localSeen = value;
            this.toMachine(value, 'Pasted from this computer to the machine.');
        } catch {
            this.say('This browser did not let the page read its clipboard: paste into the box and press Send.');
        }
    }

    /** Sends this computer's clipboard if it changed since last seen and reading it needs no prompt. */
    async syncFromLocal() {
        if (!this.rfb() || !(await readGranted())) return;
        try {
            const value = await api().readText();
            if (!value || value === this.localSeen) return;
            this.localSeen = value;
            if (value !== this.synced) this.toMachine(value, 'This computer\'s clipboard was sent to the machine.');
        } catch { /* no focus or not allowed any more: the buttons still work */ }
    }

    say(text) {
        this.note.textContent = text;
    }
}
