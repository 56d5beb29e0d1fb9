// Scale-out end to end (issue 13): PostgreSQL, three `porthole serve` processes on one store, and
// Debian's HAProxy in front with the configuration the README gives (read from it, so the two
// cannot drift), on free ports in a temp dir. Chromium opens a console through HAProxy; the
// process holding it is killed with SIGKILL; the page reconnects with the same URL, HAProxy sends
// it to another process, and the screen is drawn again. Then a reset sent straight to one
// process closes a console that another holds, in Chromium, within a second (measured).
// PostgreSQL: PORTHOLE_TEST_POSTGRES_URL (scripts/test sets it), else scripts/postgres-up.sh.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { Resources, changedPixels, clickFramebuffer, freePort, launchBrowser, litPixels, openConsole, portholeBin, repoRoot, screenshot,
    sleep, snapshot, start, startXvnc, tempDir, waitFor } from './lib.mjs';

const KEY = 'haproxy-e2e-key-0123456789';

// A schema of its own on the test PostgreSQL server; the store URL that uses it.
function postgresStore(res) {
    const url = process.env.PORTHOLE_TEST_POSTGRES_URL ||
        execFileSync(path.join(repoRoot, 'scripts/postgres-up.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const schema = `porthole_e2e_${process.pid}_${Date.now() % 1000000}`;
    execFileSync('psql', [url, '-q', '-c', `CREATE SCHEMA ${schema}`]);
    res.add(() => execFileSync('psql', [url, '-q', '-c', `DROP SCHEMA ${schema} CASCADE`], { stdio: 'ignore' }));
    return `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

// The README's HAProxy block, with this test's ports, plain http, and the three processes.
function readmeHaproxyConfig({ port, backends }) {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.split('\n## Several processes: PostgreSQL, HAProxy, sessions cluster-wide\n')[1];
    assert.ok(section, 'README has the scale-out section');
    let conf = section.match(/```haproxy\n([\s\S]*?)```/)[1];
    const replace = (from, to) => {
        assert.equal(conf.split(from).length, 2, `the README's HAProxy block has ${JSON.stringify(from)} once`);
        conf = conf.replace(from, to);
    };
    replace('bind :443 ssl crt /etc/haproxy/console.example.com.pem', `bind 127.0.0.1:${port}`);
    replace('http-request set-header X-Forwarded-Proto https', 'http-request set-header X-Forwarded-Proto http');
    backends.forEach((b, i) => replace(`server p${i + 1} 10.0.0.1${i + 1}:6080`, `server p${i + 1} 127.0.0.1:${b}`));
    return conf;
}

async function startHaproxy(res, dir, { port, backends }) {
    const conf = path.join(dir, 'haproxy.cfg');
    writeFileSync(conf, ['global', '    maxconn 2000', '', readmeHaproxyConfig({ port, backends })].join('\n'));
    execFileSync('haproxy', ['-c', '-q', '-f', conf]);
    const haproxy = start('haproxy', ['-db', '-f', conf]);
    res.add(() => haproxy.stop());
    await waitFor(`HAProxy on port ${port}`, () => new Promise((resolve, reject) => {
        if (haproxy.child.exitCode !== null) reject(Object.assign(new Error(`haproxy exited: ${haproxy.out.stderr}`), { fatal: true }));
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
    }));
    return haproxy;
}

// One `porthole serve` of the cluster: its own listener and name, the shared store and target.
async function startProcess(res, dir, { name, store, xvnc, base }) {
    const port = await freePort();
    const config = path.join(dir, `${name}.toml`);
    writeFileSync(config, [
        '[proxy]', `listen = "127.0.0.1:${port}"`, 'trusted_proxies = ["127.0.0.1"]',
        '[vnc]', `novncproxy_base_url = "${base}/vnc_lite.html"`,
        '[consoleauth]', `store = "${store}"`,
        '[cluster]', `proxy_id = "${name}"`, 'heartbeat_interval = 1',
        '[[targets]]', 'name = "xvnc"', 'host = "127.0.0.1"', `port = ${xvnc.port}`,
        '[[api.keys]]', 'name = "ops"', `secret = "${KEY}"`, 'role = "admin"',
    ].join('\n') + '\n');
    const proc = start(portholeBin, ['serve', '-c', config]);
    res.add(() => proc.stop());
    const url = `http://127.0.0.1:${port}`;
    await waitFor(`${name} ready`, async () => {
        if (proc.child.exitCode !== null) throw Object.assign(new Error(`${name} exited: ${proc.out.stderr}`), { fatal: true });
        return (await fetch(`${url}/readyz`)).ok;
    });
    return { name, port, url, proc, config };
}

async function api(base, method, p, body) {
    const r = await fetch(`${base}${p}`, {
        method, headers: { 'X-Auth-Token': KEY, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body),
    });
    return { status: r.status, json: r.status === 204 ? null : await r.json() };
}

// The process holding the one live session (as every process's store says).
async function holder(base) {
    return waitFor('one live session listed', async () => {
        const { json } = await api(base, 'GET', '/v2.1/porthole/sessions');
        return json.sessions.length === 1 && json.sessions[0];
    });
}

test('three porthole processes on PostgreSQL behind HAProxy: a killed process\'s console comes back on another, a reset on one closes another\'s console within a second', { timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const dir = tempDir(res, 'porthole-haproxy-');
        const store = postgresStore(res);
        const xvnc = await startXvnc(res);
        const lbPort = await freePort();
        const lb = `http://127.0.0.1:${lbPort}`;
        const procs = [];
        for (const name of ['p1', 'p2', 'p3']) procs.push(await startProcess(res, dir, { name, store, xvnc, base: lb }));
        await startHaproxy(res, dir, { port: lbPort, backends: procs.map((p) => p.port) });
        await waitFor('HAProxy sees the processes ready', async () => (await fetch(`${lb}/readyz`)).ok);

        // A console URL minted through HAProxy (by whichever process), opened through HAProxy.
        const servers = (await api(lb, 'GET', '/v2.1/servers')).json.servers;
        const uuid = servers.find((s) => s.name === 'xvnc').id;
        const minted = await api(lb, 'POST', `/v2.1/servers/${uuid}/remote-consoles`, { remote_console: { protocol: 'vnc', type: 'novnc' } });
        assert.equal(minted.status, 200);
        const url = minted.json.remote_console.url;
        assert.ok(url.startsWith(`${lb}/vnc_lite.html?path=`), url);
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, url);
        await sleep(1000);
        assert.deepEqual(await snapshot(page, 'before'), { width: 1024, height: 768 });
        assert.ok(await litPixels(page, 'before') > 1000, 'the xterm is drawn through HAProxy');
        const first = await holder(lb);
        assert.equal(first.client, '127.0.0.1', 'the client from X-Forwarded-For');
        await screenshot(page, 'haproxy-before-kill');

        // SIGKILL the process holding it: the page reconnects by itself, through HAProxy, elsewhere.
        const victim = procs.find((p) => p.name === first.proxy_id);
        process.kill(-victim.proc.child.pid, 'SIGKILL');
        await page.waitForSelector('body:not([data-state="connected"])', { timeout: 10000 });
        await page.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
        const second = await waitFor('the new session on another process', async () => {
            const { json } = await api(lb, 'GET', '/v2.1/porthole/sessions');
            return json.sessions.find((s) => s.proxy_id !== victim.name);
        });
        assert.notEqual(second.proxy_id, victim.name);
        // Both ways through the new process: typed keys reach the xterm, its echo reaches the page.
        await sleep(1000);
        await snapshot(page, 'reconnected');
        await clickFramebuffer(page, 200, 100);
        await page.keyboard.type('echo failed-over');
        await waitFor('the typed text on the canvas', async () => {
            await snapshot(page, 'typed');
            return await changedPixels(page, 'reconnected', 'typed', { x: 0, y: 0, w: 600, h: 60 }) > 100;
        });
        await screenshot(page, 'haproxy-after-kill');
        // The killed process's session is ended by the survivors within a few heartbeats.
        const gone = await waitFor('the killed process\'s session ended as proxy-gone', async () => {
            const { json } = await api(lb, 'GET', '/v2.1/porthole/sessions?history=true');
            return json.sessions.find((s) => s.proxy_id === victim.name && s.end_reason === 'proxy-gone');
        }, 15000);
        assert.equal(gone.id, first.id);

        // A reset sent to a process that does not hold the console closes it within a second.
        const other = procs.find((p) => p.name !== victim.name && p.name !== second.proxy_id);
        const closed = page.waitForSelector('body[data-state="disconnected"]', { timeout: 5000 });
        const sent = Date.now();
        const reset = await api(other.url, 'DELETE', `/v2.1/servers/${uuid}/remote-consoles`);
        assert.equal(reset.status, 204);
        await closed;
        const took = Date.now() - sent;
        console.log(`reset on ${other.name}, console held by ${second.proxy_id}: closed in Chromium ${took} ms after the request was sent`);
        assert.ok(took <= 1000, `closed ${took} ms after the reset, more than a second`);
        assert.match(await page.textContent('#notice-text'), /Console reset by an administrator/);
        await screenshot(page, 'haproxy-reset-elsewhere');
    } finally {
        await res.close();
    }
});
