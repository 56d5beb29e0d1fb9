// Porthole console page logic: read path/title from the URL, open the noVNC RFB client, show state.

const $ = (id) => document.getElementById(id);

// A parameter from the query string, else from the fragment (#path=...), as noVNC pages accept both.
function param(name) {
    const query = new URLSearchParams(window.location.search);
    if (query.has(name)) return query.get(name);
    const frag = new URLSearchParams(window.location.hash.slice(1));
    return frag.has(name) ? frag.get(name) : null;
}

function setState(state, text) {
    document.body.dataset.state = state;
    $('status').textContent = text;
    const live = state === 'connected';
    for (const id of ['ctrlaltdel', 'scale', 'clipboard', 'paste']) $(id).disabled = !live;
}

function websocketUrl(path) {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${window.location.host}/${path.replace(/^\//, '')}`;
}

// The noVNC client, imported at run time so that a missing or broken copy is reported on the page
// instead of leaving it "Connecting…" for ever.
async function loadRfb() {
    try {
        return (await import('./novnc/core/rfb.js')).default;
    } catch (err) {
        console.error('loading noVNC failed:', err);
        setState('disconnected', 'Disconnected: the console client (noVNC) could not be loaded');
        return null;
    }
}

async function start() {
    const title = param('title') || 'Porthole console';
    document.title = title;
    $('title').textContent = title;

    const path = param('path');
    if (path === null) { // present but empty means the root path, e.g. behind a plain websockify
        setState('disconnected', 'Disconnected: no console token in the URL');
        return;
    }
    setState('connecting', 'Connecting…');
    const RFB = await loadRfb();
    if (!RFB) return;
    let rfb;
    try {
        rfb = new RFB($('screen'), websocketUrl(path), { wsProtocols: ['binary'] });
    } catch (err) {
        setState('disconnected', `Disconnected: ${err.message}`);
        return;
    }
    rfb.scaleViewport = $('scale').checked;
    let failure = null;

    rfb.addEventListener('connect', () => {
        setState('connected', 'Connected');
        rfb.focus();
    });
    rfb.addEventListener('securityfailure', (e) => {
        failure = e.detail.reason || `security negotiation failed (${e.detail.status})`;
    });
    rfb.addEventListener('credentialsrequired', () => {
        failure = 'the VNC server asks for a password; Porthole should supply it';
        rfb.disconnect();
    });
    rfb.addEventListener('disconnect', (e) => {
        const reason = failure || (e.detail.clean ? 'the console was closed'
                                                  : 'connection closed unexpectedly (invalid or expired console URL?)');
        setState('disconnected', `Disconnected: ${reason}`);
    });
    rfb.addEventListener('desktopname', (e) => {
        if (!param('title') && e.detail.name) {
            document.title = e.detail.name;
            $('title').textContent = e.detail.name;
        }
    });
    rfb.addEventListener('clipboard', (e) => { $('clipboard').value = e.detail.text; });

    $('ctrlaltdel').addEventListener('click', () => { rfb.sendCtrlAltDel(); rfb.focus(); });
    $('scale').addEventListener('change', () => { rfb.scaleViewport = $('scale').checked; });
    $('paste').addEventListener('click', () => {
        rfb.clipboardPasteFrom($('clipboard').value);
        rfb.focus();
    });
    window.porthole = { rfb };
}

await start();
