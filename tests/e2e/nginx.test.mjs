// End to end behind a reverse proxy (issue 12): Debian's nginx terminates TLS in front of `porthole
// serve` with the configuration the README gives (taken from it, so the two cannot drift), on a free
// port with its own prefix. Chromium trusts the test's CA through a throwaway NSS database and
// nothing else: a certificate from another CA, or for another name, is refused, so the certificate
// really is checked. The console opens over https/wss; a foreign Origin is still refused (403)
// through nginx; nginx's access log holds no token.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { browserTrusting, issue, makeCa } from './pki.mjs';
import { Resources, distinctColours, freePort, launchBrowser, openConsole, repoRoot, screenshot, sleep, snapshot,
    start, startPorthole, tempDir, waitFor } from './lib.mjs';

const HOST = 'console.porthole.test';

// The README's nginx configuration for Porthole, with this test's ports, names and files.
function readmeNginxConfig({ port, upstream, dir }) {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const section = readme.split('\n## Behind a reverse proxy\n')[1];
    assert.ok(section, 'README has a "Behind a reverse proxy" section');
    let conf = section.match(/```nginx\n([\s\S]*?)```/)[1];
    const replace = (from, to) => {
        assert.equal(conf.split(from).length, 2, `the README's nginx block has ${JSON.stringify(from)} once`);
        conf = conf.replace(from, to);
    };
    replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`);
    replace('server_name console.example.com;', `server_name ${HOST};`);
    replace('/etc/ssl/certs/console.example.com.pem', path.join(dir, 'server.pem'));
    replace('/etc/ssl/private/console.example.com.key', path.join(dir, 'server.key'));
    replace('/var/log/nginx/porthole.access.log', path.join(dir, 'access.log'));
    replace('http://127.0.0.1:6080', `http://127.0.0.1:${upstream}`);
    return conf;
}

// nginx with its own prefix in `dir`: the README's server, and a second one whose certificate an
// untrusted CA signed. Stopped (with its workers, one process group) at cleanup.
async function startNginx(res, dir, { port, roguePort, upstream }) {
    for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, 'tmp', t), { recursive: true });
    const temp = (t) => `${t}_temp_path ${path.join(dir, 'tmp', t === 'client_body' ? 'body' : t)};`;
    const conf = [
        'daemon off;', 'worker_processes 1;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log info;`,
        'events { worker_connections 128; }',
        'http {',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp),
        readmeNginxConfig({ port, upstream, dir }),
        `server { listen 127.0.0.1:${roguePort} ssl; server_name ${HOST}; ssl_certificate ${dir}/rogue.pem; ` +
            `ssl_certificate_key ${dir}/rogue.key; location / { return 200 "rogue\\n"; } }`,
        '}',
    ].join('\n');
    writeFileSync(path.join(dir, 'nginx.conf'), conf);
    const nginx = start('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')]);
    res.add(() => nginx.stop());
    await waitFor(`nginx on port ${port}`, () => new Promise((resolve, reject) => {
        if (nginx.child.exitCode !== null) {
            reject(Object.assign(new Error(`nginx exited: ${nginx.out.stderr}${readFileSync(path.join(dir, 'error.log'), 'utf8')}`), { fatal: true }));
        }
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
    }));
    return nginx;
}

// A WebSocket upgrade through nginx with `origin`; resolves to the status (101 when upgraded).
function upgrade(port, ca, token, origin) {
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: '127.0.0.1', port, servername: HOST, ca, path: `/?token=${token}`,
            headers: {
                Host: `${HOST}:${port}`, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
                'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Protocol': 'binary', Origin: origin,
            },
        });
        req.on('upgrade', (r, socket) => { socket.destroy(); resolve(r.statusCode); });
        req.on('response', (r) => { r.resume(); resolve(r.statusCode); });
        req.on('error', reject);
        req.end();
    });
}

test('behind nginx terminating TLS: the console opens over https and wss, foreign Origins are refused', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const dir = tempDir(res, 'porthole-nginx-');
        makeCa(dir, 'ca', 'Porthole test CA');
        makeCa(dir, 'rogue-ca', 'Untrusted CA');
        issue(dir, 'ca', 'server', HOST);
        issue(dir, 'rogue-ca', 'rogue', HOST);
        const ca = readFileSync(path.join(dir, 'ca.pem'));

        const port = await freePort();
        const roguePort = await freePort();
        const p = await startPorthole(res, { demo: true, baseUrl: `https://${HOST}:${port}/vnc_lite.html` });
        await startNginx(res, dir, { port, roguePort, upstream: p.port });
        const url = await waitFor('the demo URL on stdout', () => p.proc.out.stdout.split('\n').find((l) => l.includes('vnc_lite.html?path=')));
        assert.ok(url.startsWith(`https://${HOST}:${port}/vnc_lite.html?path=%3Ftoken%3D`), url);
        const token = url.split('%3D').pop();

        const browser = await browserTrusting(res, dir, 'ca.pem', [HOST, 'other.porthole.test']);

        const page = await openConsole(browser, url);
        assert.equal(await page.evaluate(() => window.location.protocol), 'https:');
        await sleep(1000);
        await snapshot(page, 'through-nginx');
        assert.ok(await distinctColours(page, 'through-nginx') > 8, 'the demo screen is drawn through nginx');
        await screenshot(page, 'nginx-console');

        // The certificate is really checked: another CA's, or ours for another name, is refused.
        const other = await browser.newPage();
        await assert.rejects(other.goto(`https://${HOST}:${roguePort}/`), /ERR_CERT_AUTHORITY_INVALID/);
        await assert.rejects(other.goto(`https://other.porthole.test:${port}/vnc_lite.html`), /ERR_CERT_COMMON_NAME_INVALID/);

        // The Origin check through nginx: the page's own origin is upgraded, a foreign one refused.
        assert.equal(await upgrade(port, ca, token, `https://${HOST}:${port}`), 101);
        assert.equal(await upgrade(port, ca, token, 'https://evil.example'), 403);
        assert.equal(await upgrade(port, ca, token, `https://${HOST}.evil.example:${port}`), 403);

        const log = readFileSync(path.join(dir, 'access.log'), 'utf8');
        assert.match(log, /"GET \/ HTTP\/1\.1" 101 /, 'the console WebSocket went through nginx');
        assert.ok(!log.includes(token), 'nginx logged no console token');
    } finally {
        await res.close();
    }
});
