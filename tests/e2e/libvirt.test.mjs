// End to end with libvirt: a QEMU domain's console (SeaBIOS) in Chromium through porthole serve.
// Runs when PORTHOLE_E2E_LIBVIRT=1 (the README's test command starts libvirtd and sets it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resources, consoleUrl, launchBrowser, litPixels, openConsole, screenshot, snapshot, startDomain,
    startPorthole, waitFor } from './lib.mjs';

const enabled = process.env.PORTHOLE_E2E_LIBVIRT === '1';

test('a libvirt domain shows its SeaBIOS screen in the browser', { skip: !enabled && 'set PORTHOLE_E2E_LIBVIRT=1', timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const name = startDomain(res, 'chromium');
        const p = await startPorthole(res, { nodes: [{ name: 'local', uri: 'qemu:///system' }] });
        const url = consoleUrl(p.config, name);
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, url);
        await waitFor('SeaBIOS text on the canvas', async () => {
            await snapshot(page, 'bios');
            return await litPixels(page, 'bios') > 100;
        }, 30000);
        assert.match(await page.textContent('#status'), /Connected/);
        await screenshot(page, 'libvirt-seabios');
    } finally {
        await res.close();
    }
});
