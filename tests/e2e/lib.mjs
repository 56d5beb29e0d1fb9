// Helpers for the end-to-end tests: processes (Xvnc, xterm, porthole), free ports, Chromium, canvas pixels.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const portholeBin = process.env.PORTHOLE_BIN || path.join(repoRoot, 'target/debug/porthole');
export const artifacts = path.join(repoRoot, 'artifacts/e2e');
mkdirSync(artifacts, { recursive: true });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns something truthy; errors are retried unless they carry `fatal`.
export async function waitFor(what, fn, timeoutMs = 15000) {
    const end = Date.now() + timeoutMs;
    let last;
    while (Date.now() < end) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (e) {
            if (e.fatal) throw e;
            last = e;
        }
        await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function portOpen(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
    });
}

// Starts a process in its own process group; stop() kills the whole group.
export function start(cmd, args, opts = {}) {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (d) => { out.stdout += d; });
    child.stderr.on('data', (d) => { out.stderr += d; });
    const exited = new Promise((r) => child.once('exit', r));
    return {
        child, out, exited,
        async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
            const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
            if (!done) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
        },
    };
}

// A cleanup stack for one test: everything started is stopped, even when the test fails.
export class Resources {
    constructor() { this.stack = []; }
    add(stop) { this.stack.push(stop); }
    async close() {
        while (this.stack.length) {
            try { await this.stack.pop()(); } catch (e) { console.error('cleanup:', e.message); }
        }
    }
}

// A temporary directory, removed at cleanup.
export function tempDir(res, prefix) {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    res.add(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
}

function freeDisplay() {
    for (let n = 20; n < 200; n++) {
        if (!existsSync(`/tmp/.X${n}-lock`) && !existsSync(`/tmp/.X11-unix/X${n}`)) return n;
    }
    throw new Error('no free X display number');
}

// TigerVNC Xvnc with security None on loopback, and an xterm in its top-left corner running `command`
// (a shell by default); `windows` are more xterms' geometries (e.g. '30x8-0+0' at the top-right);
// `args` more Xvnc options.
export async function startXvnc(res, { geometry = '1024x768', command = ['sh'], windows = [], args = [] } = {}) {
    const display = freeDisplay();
    const port = await freePort();
    const xvnc = start('Xvnc', [`:${display}`, '-geometry', geometry, '-depth', '24', '-SecurityTypes', 'None',
        '-rfbport', String(port), '-localhost', '-nolisten', 'tcp', '-AlwaysShared', ...args]);
    res.add(() => xvnc.stop());
    await waitFor(`Xvnc on port ${port}`, () => portOpen(port));
    const env = { ...process.env, DISPLAY: `:${display}` };
    // Alt sends ESC + key (not an 8-bit character), so that the bytes a key makes are easy to name.
    const xtermArgs = ['-bg', 'white', '-fg', 'black', '-xrm', 'XTerm*metaSendsEscape: true'];
    const xterm = start('xterm', ['-geometry', '80x24+0+0', ...xtermArgs, '-e', ...command], { env });
    res.add(() => xterm.stop());
    for (const g of windows) {
        const w = start('xterm', ['-geometry', g, ...xtermArgs, '-e', 'sh'], { env });
        res.add(() => w.stop());
    }
    await waitFor('the xterm windows', () => {
        const tree = execFileSync('xwininfo', ['-root', '-tree'], { env, encoding: 'utf8' });
        return (tree.match(/"xterm"/gi) || []).length >= 1 + windows.length;
    });
    await sleep(500);
    return { display, port, env };
}

// A program for the xterm that writes every byte the terminal receives (raw mode: Esc, Tab and
// Ctrl-C arrive as bytes, nothing is echoed) to a file; `read()` returns them as a Buffer.
export function keyRecorder(res) {
    const dir = tempDir(res, 'porthole-keys-');
    const out = path.join(dir, 'keys.bin');
    const script = path.join(dir, 'record.py');
    writeFileSync(out, '');
    writeFileSync(script, [
        'import os, sys, tty',
        'fd = sys.stdin.fileno()',
        'tty.setraw(fd)',
        `out = os.open(${JSON.stringify(out)}, os.O_WRONLY | os.O_APPEND)`,
        'while True:',
        '    b = os.read(fd, 4096)',
        '    if not b: break',
        '    os.write(out, b)',
    ].join('\n') + '\n');
    return { command: ['/usr/bin/python3', script], read: () => readFileSync(out) };
}

// porthole serve with a config written to a temp dir (`extra`: more TOML lines at its end); resolves
// when /healthz answers. The pages are the ones built into the binary (or `webRoot`, served as is);
// `baseUrl` is the console URL base, or a function of the port (default: this listener's vnc_lite.html).
// Retries when another process took the port.
export async function startPorthole(res, { targets = [], demo = false, nodes = [], extra = [], vnc = [], consoleauth = [], proxy = [], webRoot, baseUrl } = {}) {
    for (let attempt = 1; ; attempt++) {
        try {
            return await startPortholeOnce(res, { targets, demo, nodes, extra, vnc, consoleauth, proxy, webRoot, baseUrl });
        } catch (e) {
            if (attempt >= 3 || !/Address already in use/.test(e.message)) throw e;
        }
    }
}

async function startPortholeOnce(res, { targets, demo, nodes, extra, vnc, consoleauth, proxy, webRoot, baseUrl }) {
    const dir = tempDir(res, 'porthole-e2e-');
    const port = await freePort();
    const config = path.join(dir, 'porthole.toml');
    const lines = [
        '[proxy]', `listen = "127.0.0.1:${port}"`, ...(webRoot ? [`web_root = "${webRoot}"`] : []), ...proxy,
        '[vnc]', `novncproxy_base_url = "${(typeof baseUrl === 'function' ? baseUrl(port) : baseUrl) || `http://127.0.0.1:${port}/vnc_lite.html`}"`, ...vnc,
        '[consoleauth]', `store = "sqlite://${dir}/porthole.db"`, ...consoleauth,
    ];
    for (const t of targets) lines.push('[[targets]]', `name = "${t.name}"`, 'host = "127.0.0.1"', `port = ${t.port}`);
    for (const n of nodes) lines.push('[[nodes]]', `name = "${n.name}"`, `libvirt_uri = "${n.uri}"`, 'proxyclient_address = "127.0.0.1"');
    lines.push(...extra);
    writeFileSync(config, lines.join('\n') + '\n');
    const args = ['serve', '-c', config, ...(demo ? ['--demo'] : [])];
    const proc = start(portholeBin, args);
    res.add(() => proc.stop());
    await waitFor('porthole /healthz', async () => {
        if (proc.child.exitCode !== null) {
            throw Object.assign(new Error(`porthole exited: ${proc.out.stderr.trim()}`), { fatal: true });
        }
        // Any answer means it listens (a TLS-only porthole answers plain http with 400).
        const r = await fetch(`http://127.0.0.1:${port}/healthz`);
        return r.ok || r.status === 400;
    });
    return { port, config, proc, base: `http://127.0.0.1:${port}` };
}

// Stops a porthole started by startPorthole and starts it again on the same port with the same
// config and token store (tokens minted before stay valid); returns the new process.
export async function restartPorthole(res, p) {
    await p.proc.stop();
    const proc = start(portholeBin, ['serve', '-c', p.config]);
    res.add(() => proc.stop());
    await waitFor('porthole /healthz after the restart', async () => {
        if (proc.child.exitCode !== null) {
            throw Object.assign(new Error(`porthole exited: ${proc.out.stderr.trim()}`), { fatal: true });
        }
        return (await fetch(`${p.base}/healthz`)).ok;
    });
    p.proc = proc;
    return proc;
}

export function consoleUrl(config, instance) {
    return execFileSync(portholeBin, ['console', 'url', '-c', config, instance], { encoding: 'utf8' }).trim();
}

// Headless Chromium; `args` are added to the usual flags, `env` replaces its environment.
export async function launchBrowser(res, { args = [], env } = {}) {
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync', ...args],
        ...(env ? { env } : {}),
    });
    res.add(() => browser.close());
    return browser;
}

// Opens a console URL in a new page of `browser` (1280×900) or of a browser context (its own
// viewport, e.g. a phone's) and waits for the page's state to become `state`.
export async function openConsole(browser, url, state = 'connected') {
    const page = browser.newContext ? await browser.newPage({ viewport: { width: 1280, height: 900 } }) : await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    try {
        await page.waitForSelector(`body[data-state="${state}"]`, { timeout: 20000 });
    } catch (e) {
        const status = await page.textContent('#status').catch(() => '?');
        throw new Error(`console never reached "${state}" (status: ${status}; page errors: ${errors.join('; ')})`);
    }
    return page;
}

// Keeps a copy of the noVNC canvas's pixels in the page under `name`; returns its size.
export function snapshot(page, name) {
    return page.evaluate((name) => {
        const c = document.querySelector('#screen canvas');
        const img = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        window.__snaps = window.__snaps || {};
        window.__snaps[name] = img;
        return { width: c.width, height: c.height };
    }, name);
}

// Pixels that differ between two snapshots inside a framebuffer rectangle.
export function changedPixels(page, a, b, rect) {
    return page.evaluate(({ a, b, rect }) => {
        const A = window.__snaps[a], B = window.__snaps[b];
        let n = 0;
        for (let y = rect.y; y < Math.min(rect.y + rect.h, A.height); y++) {
            for (let x = rect.x; x < Math.min(rect.x + rect.w, A.width); x++) {
                const i = (y * A.width + x) * 4;
                if (A.data[i] !== B.data[i] || A.data[i + 1] !== B.data[i + 1] || A.data[i + 2] !== B.data[i + 2]) n++;
            }
        }
        return n;
    }, { a, b, rect });
}

// Distinct colours in a snapshot (sampled), to tell a drawn screen from a blank one.
export function distinctColours(page, name) {
    return page.evaluate((name) => {
        const S = window.__snaps[name];
        const seen = new Set();
        for (let i = 0; i < S.data.length; i += 4 * 97) seen.add((S.data[i] << 16) | (S.data[i + 1] << 8) | S.data[i + 2]);
        return seen.size;
    }, name);
}

// Clicks the canvas at framebuffer coordinates (the canvas may be scaled to the window).
export async function clickFramebuffer(page, fx, fy) {
    const box = await page.evaluate(() => {
        const c = document.querySelector('#screen canvas');
        const r = c.getBoundingClientRect();
        return { left: r.left, top: r.top, sx: r.width / c.width, sy: r.height / c.height };
    });
    await page.mouse.click(box.left + fx * box.sx, box.top + fy * box.sy);
}

export async function screenshot(page, name) {
    await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}

// A transient QEMU domain (TCG, no disk: SeaBIOS says "No bootable device"), destroyed at cleanup.
export function startDomain(res, tag, graphics = "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>") {
    const name = `ph-e2e-${tag}-${process.pid}-${Date.now() % 100000}`;
    const dir = tempDir(res, 'porthole-dom-');
    const xml = path.join(dir, 'domain.xml');
    writeFileSync(xml, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory>` +
        `<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${graphics}` +
        `<video><model type='vga'/></video></devices></domain>`);
    execFileSync('virsh', ['-c', 'qemu:///system', 'create', xml], { stdio: 'ignore' });
    res.add(() => { try { execFileSync('virsh', ['-c', 'qemu:///system', 'destroy', name], { stdio: 'ignore' }); } catch { /* gone */ } });
    return name;
}

// Non-black pixels in a snapshot (sampled every 7th pixel).
export function litPixels(page, name) {
    return page.evaluate((name) => {
        const S = window.__snaps[name];
        let n = 0;
        for (let i = 0; i < S.data.length; i += 4 * 7) if (S.data[i] + S.data[i + 1] + S.data[i + 2] > 60) n++;
        return n;
    }, name);
}

// A digest (FNV-1a over RGB) of the canvas's current pixels inside a framebuffer rectangle, to compare
// what two pages show.
export function canvasDigest(page, rect) {
    return page.evaluate((rect) => {
        const c = document.querySelector('#screen canvas');
        const { data } = c.getContext('2d').getImageData(rect.x, rect.y, rect.w, rect.h);
        let h = 0x811c9dc5;
        for (let i = 0; i < data.length; i++) {
            if (i % 4 === 3) continue;
            h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
        }
        return h.toString(16);
    }, rect);
}
