// The drop-in for nova-novncproxy, against the real thing: Nova 34.0.0 from PyPI (scripts/nova-deps.sh)
// creates its database with `nova-manage db sync` on MariaDB and on PostgreSQL (scripts/nova-up.sh),
// Nova's own `ConsoleAuthToken(...).authorize(ttl)` mints console URLs for real libvirt domains
// (QEMU/TCG), and `porthole serve --nova-config nova.conf` serves them: SeaBIOS on the canvas in
// Chromium. An expired token, a token Nova deleted (`clean_console_auths_for_instance`) and a token
// whose port now belongs to another domain get 401; minting through Porthole's API answers 409.
// Runs when PORTHOLE_E2E_NOVA=1 (the README's test command sets it, with the URLs of nova-up.sh).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { Resources, freePort, launchBrowser, litPixels, openConsole, portholeBin, repoRoot, screenshot, snapshot,
    start, startDomain, tempDir, waitFor } from './lib.mjs';

const enabled = process.env.PORTHOLE_E2E_NOVA === '1';
const skip = !enabled && 'set PORTHOLE_E2E_NOVA=1 (eval "$(scripts/nova-up.sh)" sets the rest)';
const API_KEY = 'nova-e2e-key-0123456789';

function required(name) {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run eval "$(scripts/nova-up.sh)" first`);
    return v;
}

// Nova's own code (tests/e2e/nova/nova_console.py) in Nova's virtualenv: one command a line, one JSON
// answer a line; Nova is imported once.
function nova(connection, commands) {
    const out = execFileSync(required('PORTHOLE_NOVA_PYTHON'),
        [path.join(repoRoot, 'tests/e2e/nova/nova_console.py'), '--connection', connection, 'batch'],
        { input: commands.join('\n') + '\n', encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'], timeout: 120000 });
    const answers = out.trim().split('\n').map((l) => JSON.parse(l));
    for (const [i, a] of answers.entries()) {
        if (a.error) throw new Error(`Nova: ${commands[i]}: ${a.error}`);
    }
    return answers;
}

function virsh(...args) {
    return execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' }).trim();
}

function vncPort(name) {
    return 5900 + Number(virsh('vncdisplay', name).split(':').pop());
}

// porthole serve with nova-novncproxy's options from a nova.conf, and Porthole's own ([[nodes]], API
// key) from a small porthole.toml.
async function startPortholeNova(res, connection) {
    const dir = tempDir(res, 'porthole-nova-');
    const port = await freePort();
    const novaConf = path.join(dir, 'nova.conf');
    writeFileSync(novaConf, [
        '[DEFAULT]', 'my_ip = 127.0.0.1', 'web = /usr/share/novnc',
        '[vnc]', 'novncproxy_host = $my_ip', `novncproxy_port = ${port}`,
        `novncproxy_base_url = http://127.0.0.1:${port}/vnc_lite.html`, 'server_proxyclient_address = $my_ip',
        '[console]', 'allowed_origins = console.example.com',
        '[database]', `connection = ${connection}`,
    ].join('\n') + '\n');
    const config = path.join(dir, 'porthole.toml');
    writeFileSync(config, [
        '[nova]', 'require_node_match = true',
        '[[nodes]]', 'name = "local"', 'libvirt_uri = "qemu:///system"', 'proxyclient_address = "127.0.0.1"',
        '[[api.keys]]', 'name = "ops"', `secret = "${API_KEY}"`, 'role = "admin"',
    ].join('\n') + '\n');
    const proc = start(portholeBin, ['serve', '-c', config, '--nova-config', novaConf]);
    res.add(() => proc.stop());
    await waitFor('porthole /healthz', async () => {
        if (proc.child.exitCode !== null) {
            throw Object.assign(new Error(`porthole exited: ${proc.out.stderr.trim()}`), { fatal: true });
        }
        return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
    }, 30000);
    return { port, proc, base: `http://127.0.0.1:${port}` };
}

// The status of a WebSocket upgrade with this token (101 admitted, 401 refused…).
function upgradeStatus(port, token) {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: `/?token=${encodeURIComponent(token)}`, headers: {
            Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
            'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
        req.on('upgrade', (resp, socket) => { socket.destroy(); resolve(resp.statusCode); });
        req.on('response', (resp) => { resp.resume(); resolve(resp.statusCode); });
        req.on('error', reject);
        req.end();
    });
}

async function checkReason(base, token) {
    const r = await fetch(`${base}/console/check`, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }) });
    return (await r.json()).reason;
}

for (const [db, variable] of [['MariaDB', 'PORTHOLE_TEST_NOVA_MYSQL_URL'], ['PostgreSQL', 'PORTHOLE_TEST_NOVA_POSTGRES_URL']]) {
    test(`console URLs minted by Nova into ${db} open through porthole serve`, { skip, timeout: 240000 }, async () => {
        const connection = required(variable).replace(/^nova\+/, '');
        const res = new Resources();
        try {
            const a = startDomain(res, `nova-a-${db.toLowerCase()}`);
            const b = startDomain(res, `nova-b-${db.toLowerCase()}`);
            const [uuidA, uuidB] = [virsh('domuuid', a), virsh('domuuid', b)];
            const [portA, portB] = [vncPort(a), vncPort(b)];
            const p = await startPortholeNova(res, connection);
            const base = `${p.base}/vnc_lite.html`;
            // Nova's instance rows, then tokens the way nova-compute mints them (host = its
            // server_proxyclient_address, port = the live domain's VNC port).
            const [, , valid, expired, ofB, , stale, unknown] = nova(connection, [
                `instance ${uuidA} --name ${a}`,
                `instance ${uuidB} --name ${b}`,
                `mint ${uuidA} 127.0.0.1 ${portA} ${base}`,
                `mint ${uuidA} 127.0.0.1 ${portA} ${base} --ttl 0`,
                `mint ${uuidB} 127.0.0.1 ${portB} ${base}`,
                `clean ${uuidB}`,
                // A token of A whose port is B's now (A's old port reused after a restart).
                `mint ${uuidA} 127.0.0.1 ${portB} ${base}`,
                'validate 00000000-0000-0000-0000-000000000000',
            ]);
            assert.match(valid.url, new RegExp(`^http://127\\.0\\.0\\.1:${p.port}/vnc_lite\\.html\\?path=%3Ftoken%3D[0-9a-f-]{36}$`));
            assert.equal(unknown.valid, false);
            // Nova itself still calls the stale token valid: only the port re-check refuses it.
            const [novaSaysStale] = nova(connection, [`validate ${stale.token}`]);
            assert.equal(novaSaysStale.valid, true);

            const browser = await launchBrowser(res);
            const page = await openConsole(browser, valid.url);
            await waitFor('SeaBIOS text on the canvas', async () => {
                await snapshot(page, 'bios');
                return await litPixels(page, 'bios') > 100;
            }, 60000);
            assert.match(await page.textContent('#status'), /Connected/);
            await screenshot(page, `nova-${db.toLowerCase()}-seabios`);

            assert.equal(await upgradeStatus(p.port, expired.token), 401, 'an expired Nova token');
            assert.equal(await checkReason(p.base, expired.token), 'expired');
            assert.equal(await upgradeStatus(p.port, ofB.token), 401, 'a token Nova deleted');
            assert.equal(await checkReason(p.base, ofB.token), 'invalid');
            assert.equal(await upgradeStatus(p.port, stale.token), 401, 'a token whose port belongs to another domain');
            assert.equal(await checkReason(p.base, stale.token), 'moved');
            const refused = await openConsole(browser, expired.url, 'disconnected');
            assert.match(await refused.textContent('#status'), /Disconnected/);

            // Porthole does not mint on Nova's database: its API says so (409, Nova's shape).
            const minted = await fetch(`${p.base}/v2.1/servers/${uuidA}/remote-consoles`, { method: 'POST',
                headers: { 'X-Auth-Token': API_KEY, 'content-type': 'application/json' },
                body: JSON.stringify({ remote_console: { protocol: 'vnc', type: 'novnc' } }) });
            const body = await minted.json();
            assert.equal(minted.status, 409, JSON.stringify(body));
            assert.match(body.conflict.message, /Nova mints/);
        } finally {
            await res.close();
        }
    });
}
