// Porthole terminating TLS itself ([proxy] cert, key): Chromium, trusting only the test CA, opens a
// console over https and wss; the certificate is really checked; with ssl_only, plain http is
// refused on the same port.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserTrusting, issue, makeCa } from './pki.mjs';
import { Resources, distinctColours, openConsole, screenshot, sleep, snapshot, startPorthole, tempDir, waitFor } from './lib.mjs';

const HOST = 'porthole-tls.test';

test('a console opens over https and wss from Porthole itself, with the certificate checked against its CA', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const dir = tempDir(res, 'porthole-tls-');
        makeCa(dir, 'ca', 'Porthole test CA');
        makeCa(dir, 'rogue-ca', 'Untrusted CA');
        issue(dir, 'ca', 'server', HOST);
        issue(dir, 'rogue-ca', 'rogue', HOST);
        const p = await startPorthole(res, {
            demo: true,
            proxy: [`cert = "${dir}/server.pem"`, `key = "${dir}/server.key"`, 'ssl_only = true'],
            baseUrl: (port) => `https://${HOST}:${port}/vnc_lite.html`,
        });
        const url = await waitFor('the demo URL on stdout', () => p.proc.out.stdout.split('\n').find((l) => l.includes('vnc_lite.html?path=')));
        assert.ok(url.startsWith(`https://${HOST}:${p.port}/`), url);
        const browser = await browserTrusting(res, dir, 'ca.pem', [HOST]);
        const page = await openConsole(browser, url);
        assert.equal(await page.evaluate(() => window.location.protocol), 'https:');
        const ws = await page.evaluate(() => window.porthole.rfb._url || '');
        assert.ok(ws === '' || ws.startsWith('wss://'), ws);
        await sleep(1000);
        await snapshot(page, 'tls');
        assert.ok(await distinctColours(page, 'tls') > 8, 'the demo screen is drawn over wss');
        await screenshot(page, 'tls-console');

        // ssl_only: plain http on the same port is refused with a line saying why.
        const plain = await fetch(`http://127.0.0.1:${p.port}/vnc_lite.html`);
        assert.equal(plain.status, 400);
        assert.match(await plain.text(), /HTTPS only/);
        // A certificate the browser does not trust is refused: Porthole's own, seen under another name.
        const other = await browser.newPage();
        await assert.rejects(other.goto(`https://127.0.0.1:${p.port}/vnc_lite.html`), /ERR_CERT_COMMON_NAME_INVALID|ERR_CERT/);
    } finally {
        await res.close();
    }
});
