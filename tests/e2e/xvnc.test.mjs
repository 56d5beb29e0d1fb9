// End to end with a real VNC server: TigerVNC Xvnc running an xterm, through porthole serve, in Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resources, changedPixels, clickFramebuffer, consoleUrl, launchBrowser, openConsole, screenshot,
    sleep, snapshot, startPorthole, startXvnc, waitFor } from './lib.mjs';

test('typing into an xterm on Xvnc through the console', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const x = await startXvnc(res);
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }] });
        const url = consoleUrl(p.config, 'xterm');
        assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${p.port}/vnc_lite\\.html\\?path=%3Ftoken%3D`));

        const browser = await launchBrowser(res);
        const page = await openConsole(browser, url);
        for (const id of ['ctrlaltdel', 'scale', 'clipboard', 'paste']) assert.ok(await page.isEnabled(`#${id}`), `#${id} enabled once connected`);
        await sleep(1500);
        const size = await snapshot(page, 'before');
        assert.deepEqual(size, { width: 1024, height: 768 });
        await screenshot(page, 'xvnc-before');

        // The xterm sits at the top-left; its first lines are where the command and its output go.
        await clickFramebuffer(page, 200, 100);
        await page.keyboard.type('echo porthole-e2e-OK');
        await page.keyboard.press('Enter');
        const textArea = { x: 0, y: 0, w: 600, h: 60 };
        await waitFor('the command and its output on the canvas', async () => {
            await snapshot(page, 'after');
            return await changedPixels(page, 'before', 'after', textArea) > 300;
        });
        // The shell ran it: its output fills the second line (xterm's default font is 13 px high).
        await waitFor('the command output on the second line', async () => {
            await snapshot(page, 'after');
            return await changedPixels(page, 'before', 'after', { x: 0, y: 15, w: 600, h: 12 }) > 100;
        });
        await screenshot(page, 'xvnc-after');
        // Far from the xterm, nothing changed.
        assert.equal(await changedPixels(page, 'before', 'after', { x: 700, y: 600, w: 300, h: 150 }), 0);
    } finally {
        await res.close();
    }
});
