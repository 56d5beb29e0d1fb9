// Porthole serial console page: xterm.js on the console WebSocket (binary frames both ways: the
// bytes to and from the guest's serial port), with copy/paste, fit-to-window, scrollback and a
// status line. The URL is the VNC page's: `?path=%3Ftoken%3D…` (or `#path=…`), `&title=…`.

const $ = (id) => document.getElementById(id);

const SCROLLBACK = 10000; // lines kept above the screen

// A parameter from the query string, else from the fragment, as the VNC page reads them.
function param(name) {
    const query = new URLSearchParams(window.location.search);
    if (query.has(name)) return query.get(name);
    const frag = new URLSearchParams(window.location.hash.slice(1));
    return frag.has(name) ? frag.get(name) : null;
}

function websocketUrl(path) {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${window.location.host}/${path.replace(/^\//, '')}`;
}

// ---- Status line and close reasons ------------------------------------------------------------
// HOOK: web/status.js (shared with the VNC page) is to own this part: the wording of reasons,
// `POST /console/check` to learn why a connection was refused before the upgrade, and reconnecting
// with backoff. To adopt it, replace `localStatus()` by it; the rest of this page only calls
// `status.connecting()`, `status.connected()` and `status.closed(event, opened)`, and gives it
// `reconnect` to call.

// Close reasons after which a new console URL is needed (CONTRACTS "What the browser is told").
const FINAL_REASONS = ['Console reset by an administrator', 'Session ended by an administrator', 'Instance stopped', 'Token expired'];

function describeClose(event, opened) {
    if (!opened) return { text: 'could not connect (invalid or expired console URL?)', final: false };
    const reason = event.reason || {
        1000: 'the serial console was closed',
        1001: 'the proxy is going away',
        1006: 'connection lost',
        1011: 'the console failed',
    }[event.code] || `connection closed (${event.code})`;
    return { text: reason, final: event.code === 1008 && FINAL_REASONS.includes(event.reason) };
}

function localStatus({ reconnect }) {
    const show = (state, text, final = true) => {
        document.body.dataset.state = state;
        $('status').textContent = text;
        $('reconnect').hidden = final;
        $('paste').disabled = state !== 'connected';
    };
    $('reconnect').addEventListener('click', reconnect);
    return {
        connecting: () => show('connecting', 'Connecting…'),
        connected: () => show('connected', 'Connected'),
        closed(event, opened) {
            const { text, final } = describeClose(event, opened);
            show('disconnected', `Disconnected: ${text}`, final);
            return text;
        },
        failed: (text) => show('disconnected', `Disconnected: ${text}`),
    };
}

// ---- Terminal -----------------------------------------------------------------------------------

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

function showSize(term) {
    $('size').textContent = `${term.cols}×${term.rows}`;
    $('size').dataset.stty = `stty rows ${term.rows} cols ${term.cols}`;
    $('size').title = `Serial lines do not tell the guest the window size; to match it, run in the guest: ${$('size').dataset.stty}`;
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
    return { term, fit };
}

// ---- Connection ---------------------------------------------------------------------------------

async function start() {
    const title = param('title') || 'Porthole serial console';
    document.title = title;
    $('title').textContent = title;

    let socket = null;
    const status = localStatus({ reconnect: () => connect() });
    const path = param('path');
    if (path === null) {
        status.failed('no console token in the URL');
        return;
    }
    const xterm = await loadXterm();
    if (!xterm) {
        status.failed('the terminal (xterm.js) could not be loaded');
        return;
    }
    const { term, fit } = openTerminal(xterm);
    const encoder = new TextEncoder();
    const send = (bytes) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(bytes); };
    term.onData((text) => send(encoder.encode(text)));
    term.onBinary((raw) => send(Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff)));
    $('paste').addEventListener('click', () => {
        term.paste($('paste-text').value); // line ends become CR, bracketed when the guest asked
        $('paste-box').open = false;
        term.focus();
    });

    function connect() {
        status.connecting();
        let opened = false;
        const ws = new WebSocket(websocketUrl(path), ['binary']);
        ws.binaryType = 'arraybuffer';
        socket = ws;
        ws.addEventListener('open', () => {
            opened = true;
            status.connected();
            term.focus();
        });
        ws.addEventListener('message', (e) => {
            term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
        });
        ws.addEventListener('close', (e) => {
            if (socket !== ws) return;
            const text = status.closed(e, opened);
            // eslint-disable-next-line no-control-regex
            if (opened) term.write(`\r\n\x1b[2m[porthole: disconnected: ${text.replace(/[\x00-\x1f\x7f]/g, '')}]\x1b[0m\r\n`);
        });
    }

    window.porthole = { term, fit, socket: () => socket, reconnect: connect };
    connect();
}

await start();
