// The console page on a phone (Playwright's Pixel 7: touch, 412 px wide) against a real xterm on
// Xvnc through porthole serve: the bar fits, a tap is a click on the machine, and the Keyboard button
// focuses the field that raises the on-screen keyboard, whose keys and text reach the xterm.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { devices } from 'playwright-core';
import { Resources, consoleUrl, keyRecorder, launchBrowser, openConsole, screenshot, sleep, startPorthole, startXvnc,
    waitFor } from './lib.mjs';

async function tapFramebuffer(page, fx, fy) {
    const box = await page.evaluate(() => {
        const c = document.querySelector('#screen canvas');
        const r = c.getBoundingClientRect();
        return { left: r.left, top: r.top, sx: r.width / c.width, sy: r.height / c.height };
    });
    await page.touchscreen.tap(box.left + fx * box.sx, box.top + fy * box.sy);
}

test('on a phone, the Keyboard button raises the keyboard and its keys reach the xterm', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const rec = keyRecorder(res);
        const x = await startXvnc(res, { command: rec.command });
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }] });
        const browser = await launchBrowser(res);
        const phone = await browser.newContext({ ...devices['Pixel 7'] });
        const page = await openConsole(phone, consoleUrl(p.config, 'xterm'));
        await sleep(800);
        assert.ok(await page.isVisible('#keyboard'), 'a Keyboard button on touch devices');
        assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'nothing sticks out sideways');
        await screenshot(page, 'phone-connected');

        // A tap is a left click where the finger is: the pointer moves over the xterm, which then
        // gets the keys (no window manager).
        await tapFramebuffer(page, 200, 100);
        await page.tap('#keyboard');
        await waitFor('the keyboard field focused', () => page.evaluate(() => document.activeElement.id === 'keyboard-input'));
        assert.equal(await page.getAttribute('#keyboard', 'aria-pressed'), 'true');

        await page.keyboard.type('ab'); // keys with key codes (noVNC's Keyboard on the field)
        await page.keyboard.insertText('cd'); // text from an IME or an Android keyboard (input events)
        await page.keyboard.press('Enter');
        // A toggle from the extra keys applies to text from the keyboard too; the keyboard stays up.
        await page.tap('[data-mod="Control"]');
        assert.equal(await page.evaluate(() => document.activeElement.id), 'keyboard-input', 'the keyboard stays up');
        await page.keyboard.insertText('c');
        await waitFor('the bytes in the xterm', () => rec.read().toString('latin1') === 'abcd\r\x03', 8000)
            .catch(() => assert.equal(JSON.stringify(rec.read().toString('latin1')), JSON.stringify('abcd\r\x03')));
        assert.equal(await page.getAttribute('[data-mod="Control"]', 'aria-pressed'), 'false');
        await screenshot(page, 'phone-keyboard');

        await page.tap('#keyboard');
        await waitFor('the keyboard put away', async () => await page.getAttribute('#keyboard', 'aria-pressed') === 'false');
    } finally {
        await res.close();
    }
});
