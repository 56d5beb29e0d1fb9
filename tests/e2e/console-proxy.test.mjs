// The console page against the real proxy for what only the proxy decides: why a URL is refused
// (POST /console/check), a reset console's reason with no reconnect loop, and view-only URLs whose
// input the proxy drops while a second, normal session types into the same xterm.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Resources, clickFramebuffer, consoleUrl, freePort, keyRecorder, launchBrowser, openConsole, portholeBin, screenshot,
    sleep, startPorthole, startXvnc, waitFor } from './lib.mjs';

const KEY = 'console-proxy-test-key-0123456789';
const text = async (page, sel) => (await page.textContent(sel)).trim();
const apiKey = [`[[api.keys]]`, `name = "ops"`, `secret = "${KEY}"`, `role = "admin"`];
const mint = (config, ...args) => execFileSync(portholeBin, ['console', 'url', '-c', config, ...args], { encoding: 'utf8' }).trim();

// Counts the WebSockets a page opens.
function sockets(page) {
    const opened = [];
    page.on('websocket', (ws) => opened.push(ws.url()));
    return opened;
}

test('real porthole: refusals say why (invalid, revoked, too many sessions, VNC server down)', { timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const x = await startXvnc(res);
        const gone = await freePort();
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }, { name: 'gone', port: gone }], extra: apiKey });
        const browser = await launchBrowser(res);
        const base = mint(p.config, 'xterm');

        const bogus = base.replace(/token%3D[^&]+/, 'token%3Dnot-a-token');
        let page = await openConsole(browser, bogus, 'disconnected');
        assert.match(await text(page, '#notice-text'), /not valid/);
        assert.match(await text(page, '#notice-action'), /Ask for a new console URL/);
        await screenshot(page, 'proxy-refused-invalid');

        page = await openConsole(browser, mint(p.config, 'gone'), 'reconnecting');
        assert.match(await text(page, '#notice-text'), /cannot be reached|does not answer/);
        await screenshot(page, 'proxy-refused-unreachable');
        await page.close();

        // A reset revokes the URL: the page says so before it tries.
        const uuid = JSON.parse(execFileSync(portholeBin, ['list', '-c', p.config, '--json'], { encoding: 'utf8' }))
            .instances.find((i) => i.name === 'xterm').uuid;
        const del = await fetch(`http://127.0.0.1:${p.port}/v2.1/servers/${uuid}/remote-consoles`, { method: 'DELETE', headers: { 'X-Auth-Token': KEY } });
        assert.equal(del.status, 204);
        page = await openConsole(browser, base, 'disconnected');
        assert.match(await text(page, '#notice-text'), /revoked|reset/);
        assert.match(await text(page, '#notice-action'), /Ask for a new console URL/);
        await screenshot(page, 'proxy-refused-revoked');
    } finally {
        await res.close();
    }
});

test('real porthole: too many sessions is said, and retried until a slot frees', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const x = await startXvnc(res);
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }], proxy: ['max_sessions = 1'] });
        const browser = await launchBrowser(res);
        const first = await openConsole(browser, mint(p.config, 'xterm'));
        const second = await openConsole(browser, mint(p.config, 'xterm'), 'reconnecting');
        assert.match(await text(second, '#notice-text'), /as many sessions|Too many/);
        await screenshot(second, 'proxy-refused-busy');
        await first.close();
        await second.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
    } finally {
        await res.close();
    }
});

test('real porthole: a reset console shows "Console reset by an administrator" and never reconnects', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const x = await startXvnc(res);
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }], extra: apiKey });
        const browser = await launchBrowser(res);
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const opened = sockets(page);
        await page.goto(mint(p.config, 'xterm'));
        await page.waitForSelector('body[data-state="connected"]');
        const uuid = JSON.parse(execFileSync(portholeBin, ['list', '-c', p.config, '--json'], { encoding: 'utf8' }))
            .instances.find((i) => i.name === 'xterm').uuid;
        const del = await fetch(`http://127.0.0.1:${p.port}/v2.1/servers/${uuid}/remote-consoles`, { method: 'DELETE', headers: { 'X-Auth-Token': KEY } });
        assert.equal(del.status, 204);
        await page.waitForSelector('body[data-state="disconnected"]', { timeout: 5000 });
        assert.match(await text(page, '#notice-text'), /Console reset by an administrator/);
        assert.match(await text(page, '#notice-action'), /Ask for a new console URL/);
        await screenshot(page, 'proxy-closed-reset');
        await sleep(4000);
        assert.equal(opened.length, 1, 'no reconnect after a reset');
    } finally {
        await res.close();
    }
});

test('real porthole: a view-only URL cannot type, even with the page forced, while a normal session types', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const rec = keyRecorder(res);
        const x = await startXvnc(res, { command: rec.command });
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }] });
        const browser = await launchBrowser(res);

        const viewer = await openConsole(browser, mint(p.config, '--view-only', 'xterm'));
        assert.equal(await viewer.getAttribute('#view-only', 'aria-pressed'), 'true', 'the page starts in view-only');
        await sleep(800);
        // Bypass the page: the proxy must drop what noVNC sends.
        await viewer.evaluate(() => {
            const rfb = window.porthole.rfb;
            rfb.viewOnly = false;
            for (const [keysym, code] of [[0x76, 'KeyV'], [0x69, 'KeyI'], [0x65, 'KeyE'], [0x77, 'KeyW']]) {
                rfb.sendKey(keysym, code, true);
                rfb.sendKey(keysym, code, false);
            }
        });
        await clickFramebuffer(viewer, 200, 100);

        const driver = await openConsole(browser, mint(p.config, 'xterm'));
        await sleep(800);
        await clickFramebuffer(driver, 200, 100);
        await driver.keyboard.type('ok');
        await waitFor('the driver\'s keys in the xterm', () => rec.read().toString('latin1') === 'ok', 10000);
        await sleep(1000);
        assert.equal(rec.read().toString('latin1'), 'ok', 'nothing of the viewer\'s arrived');
        // The viewer still sees the screen (its canvas is drawn).
        assert.match(await text(viewer, '#status'), /Connected.*view only/);
        await screenshot(viewer, 'proxy-view-only-viewer');
        await screenshot(driver, 'proxy-view-only-driver');
    } finally {
        await res.close();
    }
});
