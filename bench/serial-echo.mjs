// The serial console path, measured end to end: a WebSocket client (what the terminal page is)
// → `porthole serve` → libvirt's console stream → a real guest's UART → its busybox shell, which
// echoes. On one TCG guest from scripts/guest-image.sh:
//
//   set-up   RUNS times: `porthole console url --serial` (a CLI process: config, store, libvirt
//            lookup, mint), then the WebSocket upgrade (connect → open), then the first byte from
//            the guest (Enter sent at once on open → its echo: the proxy opens the console stream
//            after the upgrade, so this is the stream's opening plus one echo), and the whole
//            "URL minted → prompt shown".
//   echo     KEYS keystrokes one at a time on one session (a letter, then DEL to erase it), each
//            timed from send to the first bytes back: p50 / p99 / max.
//
// Usage: node bench/serial-echo.mjs [KEYS] [RUNS] [--tcp]   (default 200 keys, 20 set-ups;
// PORTHOLE_BIN picks the binary, as for the e2e tests; needs libvirtd: scripts/libvirt-up.sh).
// `--tcp` gives the guest a raw TCP chardev instead of a pty (Nova's set-up: the proxy connects to
// the port QEMU listens on). It prints the load average before and after: numbers taken on a busy
// machine say so.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

// Node 20 has WebSocket behind a flag (22 has it by default): run again with it.
if (typeof WebSocket === 'undefined') {
    const again = spawnSync(process.execPath, ['--experimental-websocket', ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(again.status ?? 1);
}

const { Resources, freePort, portholeBin, repoRoot, startPorthole, tempDir } = await import('../tests/e2e/lib.mjs');

const [keys = 200, runs = 20] = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const tcp = process.argv.includes('--tcp');
const PROMPT = 'guest# ';
const virsh = (...args) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' }).trim();
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** A WebSocket to a serial console with its bytes as a latin1 string, and a way to wait for more. */
function connect(url) {
    const ws = new WebSocket(url, ['binary']);
    ws.binaryType = 'arraybuffer';
    const conn = { ws, text: '', waiters: [], closed: null };
    ws.addEventListener('message', (e) => {
        conn.text += Buffer.from(e.data).toString('latin1');
        for (const w of conn.waiters.splice(0)) w();
    });
    ws.addEventListener('close', (e) => {
        conn.closed = { code: e.code, reason: e.reason };
        for (const w of conn.waiters.splice(0)) w();
    });
    conn.opened = new Promise((resolve, reject) => {
        ws.addEventListener('open', resolve);
        ws.addEventListener('error', () => reject(new Error(`WebSocket to ${url} failed`)));
    });
    /** Resolves when the text after `from` holds `needle` (or, without one, when anything came). */
    conn.until = async (from, needle, ms = 30000) => {
        const end = Date.now() + ms;
        while (needle ? !conn.text.slice(from).includes(needle) : conn.text.length <= from) {
            if (conn.closed) throw new Error(`closed ${conn.closed.code} ${conn.closed.reason} while waiting for ${JSON.stringify(needle)}`);
            if (Date.now() > end) throw new Error(`no ${JSON.stringify(needle)} within ${ms} ms; got ${JSON.stringify(conn.text.slice(-200))}`);
            await new Promise((r) => { conn.waiters.push(r); setTimeout(r, 200); });
        }
    };
    conn.close = () => new Promise((r) => { if (conn.closed) r(); else { ws.addEventListener('close', r); ws.close(1000); } });
    return conn;
}

function percentiles(samples) {
    const s = [...samples].sort((a, b) => a - b);
    const at = (p) => s[Math.min(s.length - 1, Math.round((s.length - 1) * p))];
    return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1], n: s.length };
}
const ms = (v) => `${v.toFixed(1)} ms`;
const row = (what, { p50, p99, max, n }) => console.log(`  ${what.padEnd(44)} p50 ${ms(p50).padStart(9)}  p99 ${ms(p99).padStart(9)}  max ${ms(max).padStart(9)}  (n=${n})`);

const res = new Resources();
try {
    console.log(`serial-echo: ${tcp ? 'TCP chardev' : 'pty (libvirt console stream)'}; ${os.cpus().length} CPUs, ` +
        `load average before: ${load()}; porthole: ${portholeBin}`);
    const name = `ph-bench-serial-${process.pid}`;
    let xml = execFileSync(path.join(repoRoot, 'scripts/guest-image.sh'), ['--xml', name], { encoding: 'utf8' });
    if (tcp) {
        const port = await freePort();
        xml = xml.replace("<serial type='pty'><target port='0'/></serial>",
            `<serial type='tcp'><source mode='bind' host='127.0.0.1' service='${port}'/><protocol type='raw'/><target port='0'/></serial>`)
            .replace("<console type='pty'><target type='serial' port='0'/></console>", '');
    }
    const file = path.join(tempDir(res, 'porthole-bench-'), 'guest.xml');
    writeFileSync(file, xml);
    virsh('create', '--paused', file);
    res.add(() => { try { virsh('destroy', name); } catch { /* gone */ } });
    const p = await startPorthole(res, { nodes: [{ name: 'local', uri: 'qemu:///system' }] });
    const mint = () => execFileSync(portholeBin, ['console', 'url', '--serial', '-c', p.config, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

    // Boot, watched from the first line.
    const boot = connect(mint());
    await boot.opened;
    const booting = performance.now();
    virsh('resume', name);
    await boot.until(0, PROMPT, 180000);
    console.log(`  guest booted to its prompt in ${((performance.now() - booting) / 1000).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 500)); // the prompt's own trailing bytes
    await boot.close();

    // Set-up, one session after the other.
    const setup = { mint: [], upgrade: [], firstByte: [], urlToPrompt: [] };
    for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const url = mint();
        const t1 = performance.now();
        const c = connect(url);
        await c.opened;
        const t2 = performance.now();
        c.ws.send(new Uint8Array([13]));
        await c.until(0);
        const t3 = performance.now();
        await c.until(0, PROMPT);
        const t4 = performance.now();
        setup.mint.push(t1 - t0);
        setup.upgrade.push(t2 - t1);
        setup.firstByte.push(t3 - t2);
        setup.urlToPrompt.push(t4 - t1);
        await new Promise((r) => setTimeout(r, 300)); // the rest of the prompt line
        await c.close();
    }

    // Keystroke echo on one session: a letter, then DEL, one at a time.
    const c = connect(mint());
    await c.opened;
    c.ws.send(new Uint8Array([13]));
    await c.until(0, PROMPT);
    await new Promise((r) => setTimeout(r, 500));
    const echo = [];
    for (let i = 0; i < keys + 10; i++) {
        const from = c.text.length;
        const key = i % 2 === 0 ? 0x61 + ((i / 2) % 26) : 0x7f;
        const t = performance.now();
        c.ws.send(new Uint8Array([key]));
        await c.until(from);
        if (i >= 10) echo.push(performance.now() - t); // the first 10 warm up
        await new Promise((r) => setTimeout(r, 5)); // let a split echo finish before the next key
    }
    await c.close();

    console.log(`serial-echo: load average after: ${load()}`);
    console.log('set-up (one session after the other):');
    row('console url --serial (a CLI process)', percentiles(setup.mint));
    row('WebSocket upgrade (connect → open)', percentiles(setup.upgrade));
    row('open → first byte from the guest (Enter\'s echo)', percentiles(setup.firstByte));
    row('URL minted → prompt shown', percentiles(setup.urlToPrompt));
    console.log('keystroke echo (one session):');
    row('key sent → echo received', percentiles(echo));
} finally {
    await res.close();
}
