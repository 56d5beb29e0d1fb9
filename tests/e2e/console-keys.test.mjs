// The console page's keys against a real xterm on Xvnc, through porthole serve: the extra-keys bar
// (Esc, Tab, Ctrl/Alt/Super toggles, Ctrl-Alt-F1, Ctrl-Alt-Del), the view-only toggle, and scancodes
// (QEMU extended key events) that let the machine's keyboard layout decide what a key types.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Resources, clickFramebuffer, consoleUrl, keyRecorder, launchBrowser, openConsole, screenshot, sleep,
    startPorthole, startXvnc, waitFor } from './lib.mjs';

// An xterm whose received bytes are recorded, behind porthole, open in Chromium with the pointer
// over the xterm (without a window manager, the window under the pointer gets the keys).
async function recordingConsole(res, xvncArgs = []) {
    const rec = keyRecorder(res);
    const x = await startXvnc(res, { command: rec.command, args: xvncArgs });
    const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }] });
    const browser = await launchBrowser(res);
    const page = await openConsole(browser, consoleUrl(p.config, 'xterm'));
    await sleep(800);
    await clickFramebuffer(page, 200, 100);
    return { x, page, rec };
}

// Waits until the recorder holds exactly `expected` (a string of bytes).
async function bytesEqual(rec, expected) {
    const want = Buffer.from(expected, 'latin1');
    try {
        await waitFor('the expected bytes in the xterm', () => rec.read().equals(want), 8000);
    } catch {
        assert.deepEqual(JSON.stringify(rec.read().toString('latin1')), JSON.stringify(expected));
    }
}

test('the extra keys reach the xterm: Esc, Tab, Ctrl, Alt and Super toggles, Ctrl-Alt-F1, Ctrl-Alt-Del', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const { page, rec } = await recordingConsole(res);
        await page.keyboard.type('a');
        await page.click('[data-key="Escape"]');
        await page.click('[data-key="Tab"]');
        await bytesEqual(rec, 'a\x1b\t');

        // A toggle holds its modifier for the next key only.
        await page.click('[data-mod="Control"]');
        assert.equal(await page.getAttribute('[data-mod="Control"]', 'aria-pressed'), 'true');
        await page.keyboard.press('c');
        await waitFor('the Ctrl toggle released', async () => await page.getAttribute('[data-mod="Control"]', 'aria-pressed') === 'false');
        await page.keyboard.press('c');
        await bytesEqual(rec, 'a\x1b\t\x03c');

        await page.click('[data-mod="Alt"]');
        await page.keyboard.press('x');
        await page.click('[data-mod="Super"]');
        await page.keyboard.press('y');
        await page.keyboard.press('z');
        await bytesEqual(rec, 'a\x1b\t\x03c\x1bxyz');
        // The release follows noVNC's own key-up handler (a task later): wait for it, do not race it.
        await waitFor('the Super toggle released', async () => await page.getAttribute('[data-mod="Super"]', 'aria-pressed') === 'false');

        // Ctrl plus a key from the bar; then Ctrl-Alt-F1 (menu) and Ctrl-Alt-Del, which xterm reports
        // as function keys with modifier 7 (Ctrl+Alt).
        await page.click('[data-mod="Control"]');
        await page.click('[data-key="Escape"]');
        await page.click('#fkeys summary');
        await screenshot(page, 'console-fkeys-menu');
        await page.click('[data-fkey="1"]');
        assert.equal(await page.getAttribute('#fkeys', 'open'), null, 'the menu closes after a key');
        await page.click('#ctrlaltdel');
        // xterm reports Ctrl-Alt-F1 with modifier 8, not 7: XKB gives F1 a Ctrl+Alt level of its own
        // (XF86Switch_VT_1), which xterm encodes differently; Ctrl-Alt-Del is the plain 7.
        await bytesEqual(rec, 'a\x1b\t\x03c\x1bxyz\x1b\x1b[1;8P\x1b[3;7~');
        await screenshot(page, 'console-keys');
    } finally {
        await res.close();
    }
});

test('with a German layout on the machine, the key labelled Y on a US keyboard types z (scancodes are sent)', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        // noVNC sends QEMU extended key events (a scancode with each key) when the server offers them.
        // QEMU's VNC server then presses that physical key; Xvnc does the same with RawKeyboard (by
        // default it maps the keysym instead, which would type y).
        const { x, page, rec } = await recordingConsole(res, ['-RawKeyboard=1']);
        execFileSync('setxkbmap', ['de'], { env: x.env });
        await sleep(300);
        await page.keyboard.press('KeyY');
        await page.keyboard.press('KeyZ');
        await page.keyboard.press('Minus'); // ß on a German keyboard
        await bytesEqual(rec, 'zy\xc3\x9f');
    } finally {
        await res.close();
    }
});

test('view only: keys typed while it is on never reach the xterm', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const { page, rec } = await recordingConsole(res);
        await page.keyboard.type('1');
        await bytesEqual(rec, '1');
        await page.click('#view-only');
        assert.equal(await page.getAttribute('#view-only', 'aria-pressed'), 'true');
        assert.equal(await page.isVisible('#keys'), false, 'the extra keys are hidden in view-only');
        assert.match(await page.textContent('#status'), /view only/);
        await clickFramebuffer(page, 200, 100);
        await page.keyboard.type('ignored');
        await sleep(800);
        await screenshot(page, 'console-view-only');
        await page.click('#view-only');
        await clickFramebuffer(page, 200, 100);
        await page.keyboard.type('2');
        await bytesEqual(rec, '12');
    } finally {
        await res.close();
    }
});
