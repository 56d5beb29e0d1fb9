// Porthole's serial console page: xterm.js on the console WebSocket (binary frames both ways: the
// bytes to and from the guest's serial port), with copy/paste, fit-to-window and scrollback. What
// happened and what next (the server's check, close reasons, reconnecting) is status.js's
// ConsoleSession, shown as the VNC page shows it. The URL is the VNC page's: `?path=%3Ftoken%3D…`
// (or `#path=…`), `&title=…`.
import { ConsoleSession, tokenFromPath, websocketUrl } from './status.js';

const $ = (id) => document.getElementById(id);

const SCROLLBACK = 10000; // lines kept above the screen

let socket = null; // the current WebSocket, null between connections
let dropped = false; // a connection was lost at least once: "Connecting…" is then a reconnect

// A parameter from the query string, else from the fragment, as the VNC page reads them.
function param(name) {
    const query = new URLSearchParams(window.location.search);
    if (query.has(name)) return query.get(name);
    const frag = new URLSearchParams(window.location.hash.slice(1));
    return frag.has(name) ? frag.get(name) : null;
}

// ---- What happened, and what next (the VNC page's words and layout) ----

const STATUS = { connecting: 'Connecting…', connected: 'Connected', waiting: 'Reconnecting', stopped: 'Disconnected', final: 'Disconnected' };
const BODY_STATE = { connecting: 'connecting', connected: 'connected', waiting: 'reconnecting', stopped: 'disconnected', final: 'disconnected' };

/** Shows a phase of the session (see ConsoleSession in status.js). */
function render({ phase, message = '', seconds = 0, action }) {
    document.body.dataset.state = BODY_STATE[phase];
    const live = phase === 'connected';
    for (const el of document.querySelectorAll('.needs-session')) el.disabled = !live;
    let status = STATUS[phase];
    if (phase === 'waiting') status = `Reconnecting in ${seconds} s`;
    if (phase === 'connecting' && dropped) status = 'Reconnecting…';
    $('status').textContent = status;

    if (phase === 'waiting' || phase === 'stopped' || phase === 'final') dropped = true;
    $('notice').hidden = live || (phase === 'connecting' && !dropped);
    if (message || phase !== 'connecting') $('notice-text').textContent = message;
    $('notice-action').textContent = action ?? {
        connecting: 'Reconnecting…',
        waiting: `Reconnecting in ${seconds} s…`,
        final: 'Ask for a new console URL: this one cannot be used again.',
    }[phase] ?? '';
    $('reconnect').hidden = phase !== 'waiting' && phase !== 'stopped';
    $('reconnect').textContent = phase === 'waiting' ? 'Reconnect now' : 'Reconnect';
}

// ---- Terminal ----

// xterm.js, imported at run time so that a missing copy is reported on the page.
async function loadXterm() {
    try {
        const [{ Terminal }, { FitAddon }] = await Promise.all([
            import('/xterm/lib/xterm.mjs'),
            import('/xterm-fit/lib/addon-fit.mjs'),
        ]);
        return { Terminal, FitAddon };
    } catch (err) {
        console.error('loading xterm.js failed:', err);
        return null;
    }
}

// A serial line does not carry the window size: the bar shows it, and the command that tells the guest.
function showSize(term) {
    const stty = `stty rows ${term.rows} cols ${term.cols}`;
    $('size').textContent = `${term.cols}×${term.rows}`;
    $('size').dataset.stty = stty;
    $('size').title = `A serial line does not tell the machine the window size; to match it, run in the machine: ${stty}`;
}

async function copyText(text) {
    try {
        await navigator.clipboard.writeText(text);
    } catch {
        // No async clipboard (plain http on another host): the old way.
        const area = document.createElement('textarea');
        area.value = text;
        document.body.append(area);
        area.select();
        document.execCommand('copy');
        area.remove();
    }
}

function openTerminal({ Terminal, FitAddon }) {
    const term = new Terminal({
        scrollback: SCROLLBACK,
        cursorBlink: true,
        fontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace',
        fontSize: 15,
        theme: { background: '#000000' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open($('terminal'));
    const refit = () => { fit.fit(); showSize(term); };
    refit();
    new ResizeObserver(() => requestAnimationFrame(refit)).observe($('terminal'));
    term.onResize(() => showSize(term));
    // Ctrl+Shift+C copies the selection; Ctrl+Shift+V is left to the browser, which pastes.
    term.attachCustomKeyEventHandler((e) => {
        if (e.type === 'keydown' && e.ctrlKey && e.shiftKey && (e.code === 'KeyC' || e.code === 'KeyV')) {
            if (e.code === 'KeyC' && term.hasSelection()) copyText(term.getSelection());
            return false;
        }
        return true;
    });
    $('copy').addEventListener('click', async () => {
        if (term.hasSelection()) await copyText(term.getSelection());
        term.focus();
    });
    const encoder = new TextEncoder();
    const send = (bytes) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(bytes); };
    term.onData((text) => send(encoder.encode(text)));
    term.onBinary((raw) => send(Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff)));
    $('paste').addEventListener('click', () => {
        term.paste($('paste-text').value); // line ends become CR, bracketed when the guest asked
        $('paste-box').open = false;
        term.focus();
    });
    document.addEventListener('click', (e) => { if (!$('paste-box').contains(e.target)) $('paste-box').open = false; });
    return { term, fit };
}

// ---- The connection ----

/**
 * One connection, resolving with how it ended (`{code, reason, failure}` for ConsoleSession). The
 * guest's bytes go to the terminal as they come; when a connection that was up ends, a dim line in
 * the terminal says why, so the scrollback keeps it.
 */
function open(term, path, { consoleType, connected }) {
    if (consoleType === 'novnc') {
        return {
            failure: 'This console URL is for a screen (a VNC console), not a serial console.',
            final: true,
            action: 'Open it with the console page (vnc_lite.html).',
        };
    }
    return new Promise((resolve) => {
        const closed = { code: 1006, reason: '', failure: null };
        let up = false;
        const ws = new WebSocket(websocketUrl(path), ['binary']);
        ws.binaryType = 'arraybuffer';
        socket = ws;
        ws.addEventListener('open', () => {
            up = true;
            connected();
            term.focus();
        });
        ws.addEventListener('message', (e) => {
            term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
        });
        ws.addEventListener('close', (e) => {
            closed.code = e.code;
            closed.reason = e.reason;
            if (socket === ws) socket = null;
            // eslint-disable-next-line no-control-regex
            const why = (e.reason || `connection closed (${e.code})`).replace(/[\x00-\x1f\x7f]/g, '');
            if (up) term.write(`\r\n\x1b[2m[porthole: disconnected: ${why}]\x1b[0m\r\n`);
            resolve(closed);
        });
    });
}

async function main() {
    const title = param('title') || 'Porthole serial console';
    document.title = title;
    $('title').textContent = title;
    const path = param('path');
    if (path === null) {
        render({ phase: 'final', message: 'This console URL has no token in it.' });
        return;
    }
    const xterm = await loadXterm();
    if (!xterm) {
        render({
            phase: 'final',
            message: 'The terminal (xterm.js) could not be loaded.',
            action: 'The console server is missing files: tell its administrator.',
        });
        return;
    }
    const { term, fit } = openTerminal(xterm);
    const session = new ConsoleSession({ token: tokenFromPath(path), open: (opts) => open(term, path, opts), render });
    $('reconnect').addEventListener('click', () => session.reconnectNow());
    window.porthole = { term, fit, session, socket: () => socket };
    session.run();
}

main();
