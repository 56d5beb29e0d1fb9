// Porthole's console page: reads `path` and `title` from the URL, asks the server about the token, runs
// noVNC's RFB client on a WebSocket of its own (to read close codes), reconnects, and wires the controls.
import { ConsoleSession, tokenFromPath, websocketUrl } from './status.js';

const $ = (id) => document.getElementById(id);
// A phone or tablet (touch is the main pointer), or any device with a touch screen.
const touchFirst = window.matchMedia('(pointer: coarse)').matches;
const touch = touchFirst || navigator.maxTouchPoints > 0;

let rfb = null; // the current connection, null between connections
let enforcedViewOnly = false; // the server said this console URL is view only
let dropped = false; // a connection was lost at least once: "Connecting…" is then a reconnect
const tools = {}; // ExtraKeys, TouchKeyboard, ClipboardBridge once their modules are loaded

// A parameter from the query string, else from the fragment (#path=...), as noVNC pages accept both.
function param(name) {
    const query = new URLSearchParams(window.location.search);
    if (query.has(name)) return query.get(name);
    const frag = new URLSearchParams(window.location.hash.slice(1));
    return frag.has(name) ? frag.get(name) : null;
}

const prefs = {
    get(name, fallback) {
        try { return window.localStorage.getItem(`porthole.${name}`) ?? fallback; } catch { return fallback; }
    },
    set(name, value) {
        try { window.localStorage.setItem(`porthole.${name}`, value); } catch { /* storage refused: not remembered */ }
    },
};

const STATUS = { connecting: 'Connecting…', connected: 'Connected', waiting: 'Reconnecting', stopped: 'Disconnected', final: 'Disconnected' };
const BODY_STATE = { connecting: 'connecting', connected: 'connected', waiting: 'reconnecting', stopped: 'disconnected', final: 'disconnected' };

/** Shows a phase of the session (see ConsoleSession in status.js). */
function render({ phase, message = '', seconds = 0, action }) {
    document.body.dataset.state = BODY_STATE[phase];
    const live = phase === 'connected';
    for (const el of document.querySelectorAll('.needs-session')) el.disabled = !live;
    if (enforcedViewOnly) $('view-only').disabled = true;
    let status = STATUS[phase];
    if (phase === 'waiting') status = `Reconnecting in ${seconds} s`;
    if (live && document.body.hasAttribute('data-view-only')) status = 'Connected, view only';
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

// ---- Controls that act on whichever connection is current ----

function applyScale() {
    const mode = $('scale').value;
    const pan = $('pan').getAttribute('aria-pressed') === 'true';
    $('pan').hidden = mode !== 'none';
    if (!rfb) return;
    // "Resize machine" also fits: a server that cannot be resized is then scaled instead of cut off.
    rfb.scaleViewport = mode !== 'none';
    rfb.resizeSession = mode === 'remote';
    // 1:1 shows the screen's scrollbars; Pan has noVNC move the view by dragging instead (touch).
    rfb.clipViewport = mode === 'none' && pan;
    rfb.dragViewport = mode === 'none' && pan;
}

function setViewOnly(on) {
    document.body.toggleAttribute('data-view-only', on);
    $('view-only').setAttribute('aria-pressed', String(on));
    if (document.body.dataset.state === 'connected') $('status').textContent = on ? 'Connected, view only' : 'Connected';
    if (on) tools.extraKeys?.releaseHeld(); // while keys can still be sent
    if (rfb) rfb.viewOnly = on;
}

function wireControls() {
    $('scale').value = prefs.get('scale', 'fit');
    $('pan').setAttribute('aria-pressed', String(touchFirst));
    $('scale').addEventListener('change', () => { prefs.set('scale', $('scale').value); applyScale(); rfb?.focus(); });
    $('pan').addEventListener('click', () => {
        $('pan').setAttribute('aria-pressed', String($('pan').getAttribute('aria-pressed') !== 'true'));
        applyScale();
    });
    applyScale();

    const keysShown = prefs.get('keys', 'shown') === 'shown';
    document.body.dataset.keys = keysShown ? 'shown' : 'hidden';
    $('keys-toggle').setAttribute('aria-pressed', String(keysShown));
    $('keys-toggle').addEventListener('click', () => {
        const show = document.body.dataset.keys === 'hidden';
        document.body.dataset.keys = show ? 'shown' : 'hidden';
        $('keys-toggle').setAttribute('aria-pressed', String(show));
        prefs.set('keys', show ? 'shown' : 'hidden');
    });

    $('view-only').addEventListener('click', () => setViewOnly(!document.body.hasAttribute('data-view-only')));

    $('fullscreen').hidden = !document.fullscreenEnabled;
    $('fullscreen').addEventListener('click', () => {
        const done = document.fullscreenElement
            ? document.exitFullscreen()
            : document.documentElement.requestFullscreen({ navigationUI: 'hide' });
        done.catch((err) => console.warn('fullscreen:', err.message));
    });
    document.addEventListener('fullscreenchange', () => {
        const on = document.fullscreenElement !== null;
        $('fullscreen').setAttribute('aria-pressed', String(on));
        // Keyboard Lock (Chromium): in fullscreen, Esc, Alt-Tab and the like go to the machine; holding
        // Esc leaves fullscreen.
        if (on) navigator.keyboard?.lock?.().catch(() => {});
        else navigator.keyboard?.unlock?.();
        rfb?.focus({ preventScroll: true });
    });

    // One panel open at a time; a click elsewhere closes them.
    document.addEventListener('click', (e) => {
        for (const d of document.querySelectorAll('details.menu[open]')) if (!d.contains(e.target)) d.open = false;
    });
}

// ---- The connection ----

/** noVNC and the page's modules that need it; a missing copy is reported, never left "Connecting…". */
function loadModules() {
    return Promise.all([import('./novnc/core/rfb.js'), import('./keys.js'), import('./clipboard.js')]).then(
        ([rfbModule, keys, clipboard]) => {
            const current = () => rfb;
            tools.extraKeys = new keys.ExtraKeys($('keys'), current);
            tools.clipboard = new clipboard.ClipboardBridge({
                text: $('clipboard'), send: $('paste'), pasteLocal: $('paste-local'), note: $('clipboard-note'),
                screen: $('screen'), rfb: current,
            });
            if (touch) {
                $('keyboard').hidden = false;
                tools.touchKeyboard = new keys.TouchKeyboard({
                    button: $('keyboard'), input: $('keyboard-input'), rfb: current, afterText: () => tools.extraKeys.releaseHeld(),
                });
            }
            return rfbModule.default;
        });
}

/**
 * One connection, resolving with how it ended. The page opens the WebSocket itself and hands it to
 * noVNC (its documented `urlOrChannel` argument takes a WebSocket), because noVNC's `disconnect`
 * event carries only `clean`, not the close code and reason the server sent. noVNC sets the socket's
 * `on…` properties; the listener added here is separate, added first, and so runs before noVNC's
 * `disconnect`. No wrapping of `window.WebSocket` and no reading of noVNC's private `_sock`.
 */
async function open(loading, path, { viewOnly, consoleType, connected }) {
    if (consoleType === 'serial') {
        return {
            failure: 'This console URL is for a serial console, not a screen.',
            final: true,
            action: 'Open it with the serial console page (serial.html).',
        };
    }
    let RFB;
    try {
        RFB = await loading;
    } catch (err) {
        console.error('loading noVNC failed:', err);
        return {
            failure: 'The console client (noVNC) could not be loaded.',
            final: true,
            action: 'The console server is missing files: tell its administrator.',
        };
    }
    enforcedViewOnly = viewOnly;
    if (viewOnly) {
        $('view-only').title = 'This console URL is view only: keys, clicks and the clipboard do not reach the machine.';
        setViewOnly(true);
    }
    return new Promise((resolve) => {
        const closed = { code: 1006, reason: '', failure: null };
        performance.mark('porthole-websocket'); // (marks for bench/first-frame.mjs's breakdown)
        const ws = new WebSocket(websocketUrl(path), ['binary']);
        ws.addEventListener('close', (e) => { closed.code = e.code; closed.reason = e.reason; });
        let conn;
        try {
            conn = new RFB($('screen'), ws, { shared: true });
        } catch (err) {
            ws.close();
            resolve({ ...closed, failure: `The console client could not start: ${err.message}` });
            return;
        }
        rfb = conn;
        conn.viewOnly = document.body.hasAttribute('data-view-only');
        applyScale();
        conn.addEventListener('connect', () => {
            performance.mark('porthole-connected');
            for (const old of document.querySelectorAll('#screen .last-frame')) old.remove();
            connected();
            conn.focus({ preventScroll: true });
        });
        conn.addEventListener('securityfailure', (e) => {
            closed.failure = `The machine's VNC server refused the connection: ${e.detail.reason || `security failure ${e.detail.status}`}.`;
        });
        conn.addEventListener('credentialsrequired', () => {
            closed.failure = 'The machine\'s VNC server asks for a password, which the console server should have supplied: '
                + 'tell its administrator.';
            conn.disconnect();
        });
        conn.addEventListener('desktopname', (e) => { if (!param('title') && e.detail.name) setTitle(e.detail.name); });
        conn.addEventListener('clipboard', (e) => tools.clipboard?.fromMachine(e.detail.text));
        const canvas = $('screen').querySelector('canvas:not(.last-frame)');
        conn.addEventListener('disconnect', () => {
            keepLastFrame(canvas);
            if (rfb === conn) rfb = null;
            tools.extraKeys?.reset();
            resolve(closed);
        });
    });
}

// noVNC takes its canvas out of the page when a connection ends; the last frame stays, dimmed, under
// the notice until the next connection draws (where was I?).
function keepLastFrame(canvas) {
    if (!canvas || canvas.width === 0) return;
    canvas.className = 'last-frame';
    canvas.removeAttribute('style');
    $('screen').prepend(canvas);
}

function setTitle(text) {
    document.title = text;
    $('title').textContent = text;
}

function main() {
    if (param('title')) setTitle(param('title'));
    wireControls();
    const path = param('path');
    if (path === null) { // present but empty means the root path, e.g. behind a plain websockify
        render({ phase: 'final', message: 'This console URL has no token in it.' });
        return;
    }
    const loading = loadModules();
    loading.catch(() => {}); // reported by open() when a connection needs it
    const session = new ConsoleSession({ token: tokenFromPath(path), open: (opts) => open(loading, path, opts), render });
    $('reconnect').addEventListener('click', () => session.reconnectNow());
    window.porthole = { session, get rfb() { return rfb; } };
    session.run();
}

main();
