// Porthole's operator dashboard: signs in with an API key (kept in this tab's sessionStorage, sent as
// X-Auth-Token: no cookie, so no CSRF), then lists instances (GET /v2.1/porthole/instances), live
// sessions and their history (GET /v2.1/porthole/sessions), health (/readyz), every few seconds.
// Everything from the server is put in the page as text, never as HTML.

const KEY = 'porthole.apiKey';
const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);

let timer = null;

function storedKey() {
    try { return window.sessionStorage.getItem(KEY); } catch { return null; }
}

function storeKey(value) {
    try {
        if (value === null) window.sessionStorage.removeItem(KEY); else window.sessionStorage.setItem(KEY, value);
    } catch { /* storage refused: the key lives as long as the page */ }
}

/** An element with attributes (`text` for its text) and children. */
function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (name === 'text') e.textContent = value;
        else if (name === 'class') e.className = value;
        else if (name.startsWith('on')) e.addEventListener(name.slice(2), value);
        else e.setAttribute(name, value === true ? '' : value);
    }
    e.append(...children.filter((c) => c !== null && c !== undefined));
    return e;
}

/** A table cell that phones show as "label: value". */
const cell = (label, ...content) => el('td', { 'data-label': label }, ...content);

class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
}

/** Calls the API with the key; a 401 signs out. */
async function api(path, { method = 'GET', body } = {}) {
    const headers = { 'X-Auth-Token': storedKey() ?? '', Accept: 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, body: body && JSON.stringify(body), cache: 'no-store' });
    if (r.status === 401) {
        signOut('This key is not accepted here (any more): sign in again.');
        throw new ApiError(401, 'not signed in');
    }
    let doc = null;
    try { doc = r.status === 204 ? null : await r.json(); } catch { /* not JSON */ }
    if (!r.ok) {
        const fault = doc && typeof doc === 'object' ? Object.values(doc)[0] : null;
        throw new ApiError(r.status, fault?.message || `${method} ${path}: HTTP ${r.status}`);
    }
    return doc;
}

function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function ago(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return new Date(iso).toLocaleString();
}

function duration(from, to) {
    const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
    return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor(s / 60) % 60} min`;
}

const badge = (text, kind, title) => el('span', { class: `badge ${kind}`, text, title });

function problem(message) {
    $('problem').hidden = !message;
    $('problem').textContent = message || '';
}

// ---- Instances ----

/** Mints a console through the API and opens it in a new tab (opened at the click, so no popup blocker). */
async function openConsole(instance, serial) {
    const tab = window.open('about:blank', '_blank');
    try {
        const spec = serial ? { protocol: 'serial', type: 'serial' } : { protocol: 'vnc', type: 'novnc' };
        const doc = await api(`/v2.1/servers/${encodeURIComponent(instance.id)}/remote-consoles`, { method: 'POST', body: { remote_console: spec } });
        if (tab) {
            tab.opener = null;
            tab.location.href = doc.remote_console.url;
        } else {
            window.location.assign(doc.remote_console.url);
        }
        setTimeout(refresh, 1500);
    } catch (e) {
        if (tab) tab.close();
        if (e.status !== 401) problem(`No console for ${instance.name}: ${e.message}`);
    }
}

function exposure(i) {
    if (i.exposed === true) return badge('exposed', 'bad', 'Its VNC server listens beyond loopback and the management networks');
    if (i.exposed === false) return badge('not exposed', 'ok');
    return el('span', { class: 'dim', text: '—', title: 'Not audited (static target, or no audit ran)' });
}

function findings(list) {
    if (!list.length) return el('span', { class: 'dim', text: 'clean' });
    const kind = { high: 'bad', medium: 'warn', low: 'note' };
    return el('span', { class: 'badges' }, ...list.map((f) => badge(`${f.severity}: ${f.kind}`, kind[f.severity] || 'note', `Fix: ${f.fix}`)));
}

function renderInstances(doc) {
    const rows = doc.instances.map((i) => el('tr', { 'data-instance': i.name },
        cell('Name', el('strong', { text: i.name })),
        cell('Node', i.node ?? el('span', { class: 'dim', text: 'static target' })),
        cell('State', badge(i.state, i.has_console ? 'ok' : 'off')),
        cell('VNC', i.vnc ? el('code', { text: i.vnc }) : el('span', { class: 'dim', text: '—' }), i.vnc_password ? el('span', { class: 'dim', text: ' (password)' }) : null),
        cell('Exposure', exposure(i)),
        cell('Audit', findings(i.findings)),
        el('td', { class: 'act' }, el('span', { class: 'actions' },
            el('button', { type: 'button', class: 'open', text: 'Open console', disabled: !i.has_console, onclick: () => openConsole(i, false) }),
            i.serial ? el('button', { type: 'button', class: 'open-serial', text: 'Serial', disabled: !i.has_console, onclick: () => openConsole(i, true) }) : null)),
    ));
    $('instances').tBodies[0].replaceChildren(...rows);
    $('instances-count').textContent = `(${doc.instances.length})`;
    const other = doc.audit.other_findings;
    $('other-findings').hidden = !other.length;
    $('other-findings').textContent = other.map((f) => `${f.severity}: ${f.kind} ${f.instance} on ${f.node} (${f.listen}:${f.port ?? ''}). Fix: ${f.fix}`).join('\n');
    return doc.unreachable;
}

// ---- Sessions ----

async function endSession(s, button) {
    button.disabled = true;
    button.textContent = 'Ending…';
    try {
        await api(`/v2.1/porthole/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
    } catch (e) {
        if (e.status !== 401) problem(`Could not end the session on ${s.instance}: ${e.message}`);
    }
    await refresh();
}

function renderSessions(list) {
    const rows = list.map((s) => el('tr', { 'data-session': s.id, 'data-instance': s.instance },
        cell('Instance', el('strong', { text: s.instance })),
        cell('Node', s.node ?? '—'),
        cell('Client', el('code', { text: s.client })),
        cell('Console', `${s.console_type}${s.view_only ? ', view only' : ''}`),
        cell('Started', el('span', { text: ago(s.started), title: s.started })),
        cell('Bytes in / out', `${bytes(s.bytes_to_server)} / ${bytes(s.bytes_to_browser)}`),
        cell('Minted by', s.minted_by ?? '—'),
        el('td', { class: 'act' }, el('button', { type: 'button', class: 'kill danger', text: 'End session', title: `Ends it on ${s.proxy_id}; the browser is told so`,
            onclick: (ev) => endSession(s, ev.currentTarget) })),
    ));
    $('sessions').tBodies[0].replaceChildren(...rows);
    $('sessions-count').textContent = `(${list.length})`;
    $('sessions-empty').hidden = list.length > 0;
    $('sessions').hidden = list.length === 0;
}

function renderHistory(list) {
    const ended = list.filter((s) => s.ended);
    const rows = ended.map((s) => el('tr', { 'data-session': s.id },
        cell('Instance', el('strong', { text: s.instance })),
        cell('Client', el('code', { text: s.client })),
        cell('Started', el('span', { text: ago(s.started), title: s.started })),
        cell('Duration', duration(s.started, s.ended)),
        cell('Bytes in / out', `${bytes(s.bytes_to_server)} / ${bytes(s.bytes_to_browser)}`),
        cell('Ended by', s.end_reason ?? '—'),
        cell('Minted by', s.minted_by ?? '—'),
    ));
    $('history').tBodies[0].replaceChildren(...rows);
    $('history-empty').hidden = ended.length > 0;
    $('history').hidden = ended.length === 0;
}

// ---- Health ----

async function renderHealth(unreachable) {
    let ready = null;
    try { ready = await (await fetch('/readyz', { cache: 'no-store' })).json(); } catch { /* shown as unknown */ }
    const chips = [];
    if (ready) {
        $('health').hidden = false;
        $('health').textContent = ready.ready ? 'Ready' : 'Not ready';
        $('health').className = `chip ${ready.ready ? 'ok' : 'bad'}`;
        chips.push(el('li', {}, badge(ready.store.ok ? 'store ok' : 'store down', ready.store.ok ? 'ok' : 'bad', ready.store.error)));
        for (const n of ready.nodes) {
            chips.push(el('li', {}, badge(`node ${n.name}: ${n.reachable ? 'reachable' : 'unreachable'}`, n.reachable ? 'ok' : 'bad', n.error)));
        }
        if (!ready.accepting) chips.push(el('li', {}, badge('shutting down', 'warn')));
    } else {
        $('health').hidden = false;
        $('health').textContent = 'No answer from /readyz';
        $('health').className = 'chip bad';
    }
    for (const u of unreachable) chips.push(el('li', {}, badge(`${u.node}: not listed`, 'bad', u.error)));
    $('nodes').replaceChildren(...chips);
}

// ---- Refresh, sign in and out ----

async function refresh() {
    if (!storedKey()) return;
    const problems = [];
    const results = await Promise.allSettled([
        api('/v2.1/porthole/instances'),
        api('/v2.1/porthole/sessions'),
        api('/v2.1/porthole/sessions?history=true&limit=25'),
    ]);
    if (!storedKey()) return; // signed out meanwhile (a 401)
    const [instances, sessions, history] = results;
    let unreachable = [];
    if (instances.status === 'fulfilled') unreachable = renderInstances(instances.value);
    else problems.push(`Instances: ${instances.reason.message}`);
    if (sessions.status === 'fulfilled') renderSessions(sessions.value.sessions);
    else problems.push(`Sessions: ${sessions.reason.status === 404 ? 'this Porthole has no sessions API' : sessions.reason.message}`);
    if (history.status === 'fulfilled') renderHistory(history.value.sessions);
    await renderHealth(unreachable);
    problem(problems.join(' · '));
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    document.body.dataset.loaded = 'true';
}

function show(view) {
    document.body.dataset.view = view;
    for (const e of document.querySelectorAll('.signed-in')) e.hidden = view !== 'main';
    $('signin').hidden = view !== 'signin';
    if (view === 'signin') $('key').focus();
}

function signOut(message) {
    storeKey(null);
    clearInterval(timer);
    timer = null;
    delete document.body.dataset.loaded;
    problem('');
    $('health').hidden = true;
    $('updated').textContent = '';
    $('signin-error').hidden = !message;
    $('signin-error').textContent = message || '';
    show('signin');
}

function start() {
    show('main');
    refresh();
    clearInterval(timer);
    timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
}

$('signin').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = $('key').value.trim();
    $('signin-button').disabled = true;
    try {
        const r = await fetch('/v2.1/porthole/instances', { headers: { 'X-Auth-Token': key, Accept: 'application/json' }, cache: 'no-store' });
        if (r.status === 401) throw new Error('This key is not accepted here.');
        if (!r.ok) throw new Error(`The server answered HTTP ${r.status}.`);
        storeKey(key);
        $('key').value = '';
        $('signin-error').hidden = true;
        start();
    } catch (e) {
        $('signin-error').hidden = false;
        $('signin-error').textContent = e.message;
    } finally {
        $('signin-button').disabled = false;
    }
});
$('signout').addEventListener('click', () => signOut());
$('refresh').addEventListener('click', () => refresh());
document.addEventListener('visibilitychange', () => { if (!document.hidden && storedKey()) refresh(); });

if (storedKey()) start(); else show('signin');
