// End to end: `porthole serve --demo` prints a console URL; Chromium shows the demo screen and typed keys.
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Resources, canvasDigest, changedPixels, distinctColours, launchBrowser, openConsole, screenshot,
    sleep, snapshot, repoRoot, startPorthole, tempDir, waitFor } from './lib.mjs';

test('the demo console shows a screen and the keys typed', { timeout: 90000 }, async () => {
    const res = new Resources();
    try {
        const p = await startPorthole(res, { demo: true });
        const url = await waitFor('the demo URL on stdout', () => p.proc.out.stdout.split('\n').find((l) => l.includes('vnc_lite.html?path=')));
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/vnc_lite\.html\?path=%3Ftoken%3D[A-Za-z0-9_-]{43}$/);
        assert.ok(!p.proc.out.stderr.includes(url.split('%3D')[1]), 'the token must not appear in the logs');

        const browser = await launchBrowser(res);
        const page = await openConsole(browser, url);
        await sleep(1000);
        const size = await snapshot(page, 'before');
        assert.deepEqual(size, { width: 800, height: 600 });
        assert.ok(await distinctColours(page, 'before') > 8, 'the demo screen is drawn, not blank');
        await screenshot(page, 'demo-before');

        await page.keyboard.type('hello porthole');
        await waitFor('typed text on the canvas', async () => {
            await snapshot(page, 'after');
            return await changedPixels(page, 'before', 'after', { x: 0, y: 250, w: 800, h: 130 }) > 200;
        });
        await sleep(500);
        await screenshot(page, 'demo-after');
        // Only the text area and the key counter change; the title band stays.
        assert.equal(await changedPixels(page, 'before', 'after', { x: 0, y: 0, w: 800, h: 84 }), 0);
        assert.match(await page.textContent('#status'), /Connected/);

        // Every key reaches the screen, however fast it is typed: a second viewer typing the same text
        // one key at a time must end up with the very same framebuffer (text and key counter).
        const slow = await openConsole(browser, url);
        await sleep(1000);
        for (const ch of 'hello porthole') { await slow.keyboard.type(ch); await sleep(150); }
        const whole = { x: 0, y: 0, w: 800, h: 600 };
        await waitFor('the fast and the slow viewer showing the same screen', async () =>
            await canvasDigest(page, whole) === await canvasDigest(slow, whole), 5000)
            .catch(async (e) => { await screenshot(slow, 'demo-slow'); throw e; });
    } finally {
        await res.close();
    }
});

test('a console URL with an unknown token ends disconnected', { timeout: 60000 }, async () => {
    const res = new Resources();
    try {
        const p = await startPorthole(res, { demo: true });
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, `${p.base}/vnc_lite.html?path=%3Ftoken%3Dbogus`, 'disconnected');
        assert.match(await page.textContent('#status'), /Disconnected/);
        // The words depend on whether the proxy answers POST /console/check (then: "not valid"), or
        // not (then the page's older guess).
        assert.match(await page.textContent('#notice-text'), /not valid|may be invalid or expired/);
        await screenshot(page, 'demo-bad-token');
    } finally {
        await res.close();
    }
});

test('a page without a token says so', { timeout: 60000 }, async () => {
    const res = new Resources();
    try {
        const p = await startPorthole(res);
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, `${p.base}/console.html`, 'disconnected');
        assert.match(await page.textContent('#notice-text'), /no token/);
    } finally {
        await res.close();
    }
});

test('a page whose noVNC copy is missing says so instead of hanging', { timeout: 60000 }, async () => {
    const res = new Resources();
    try {
        // web/'s own files, served as is by web_root: no novnc/ beside them.
        const web = tempDir(res, 'porthole-web-');
        for (const f of readdirSync(path.join(repoRoot, 'web'))) {
            if (/\.(html|js|css|svg)$/.test(f)) copyFileSync(path.join(repoRoot, 'web', f), path.join(web, f));
        }
        copyFileSync(path.join(repoRoot, 'web', 'console.html'), path.join(web, 'vnc_lite.html'));
        const p = await startPorthole(res, { demo: true, webRoot: web });
        const url = await waitFor('the demo URL on stdout', () => p.proc.out.stdout.split('\n').find((l) => l.includes('vnc_lite.html?path=')));
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, url, 'disconnected');
        assert.match(await page.textContent('#notice-text'), /could not be loaded/);
        assert.match(await page.textContent('#notice-action'), /missing files/);
    } finally {
        await res.close();
    }
});
