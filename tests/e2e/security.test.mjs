// End to end through the RFB security proxy: QEMU with a VNC password, opened in Chromium with
// noVNC offered security None only; a wrong password shows the browser a reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resources, consoleUrl, launchBrowser, litPixels, openConsole, screenshot, snapshot, start,
    startListening, startPorthole, waitFor } from './lib.mjs';

// QEMU with a VNC password on a port it owns (display = port - 5900).
async function qemuWithPassword(res, password) {
    const { port } = await startListening(res, 'QEMU', (port) => start('qemu-system-x86_64', ['-M', 'pc', '-m', '32',
        '-nodefaults', '-vga', 'std', '-display', 'none', '-object', `secret,id=s0,data=${password}`,
        '-vnc', `127.0.0.1:${port - 5900},password-secret=s0`]));
    return port;
}

const VNC = ['auth_schemes = ["vnc"]'];

function target(port, password) {
    return ['[[targets]]', 'name = "locked"', 'host = "127.0.0.1"', `port = ${port}`, `password = "${password}"`];
}

test('a password-protected QEMU through the security proxy in Chromium', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const port = await qemuWithPassword(res, 'qemupw12');
        const p = await startPorthole(res, { vnc: VNC, extra: target(port, 'qemupw12') });
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, consoleUrl(p.config, 'locked'));
        await waitFor('SeaBIOS on the canvas', async () => {
            await snapshot(page, 'locked');
            return await litPixels(page, 'locked') > 100;
        }, 30000);
        await screenshot(page, 'security-qemu-password');
    } finally {
        await res.close();
    }
});

test('a wrong password gives the browser a failure reason', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const port = await qemuWithPassword(res, 'qemupw12');
        const p = await startPorthole(res, { vnc: VNC, extra: target(port, 'not-it') });
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, consoleUrl(p.config, 'locked'), 'disconnected');
        assert.match(await page.textContent('#notice-text'), /Authentication to the VNC server failed/);
        await screenshot(page, 'security-wrong-password');
    } finally {
        await res.close();
    }
});
