// The operator dashboard in headless Chromium on real libvirt domains: sign in with an API key, see
// the domains with their state, VNC endpoint, exposure and audit findings, open a console from the
// dashboard, see its session listed, end it (the console page says "Session ended by an
// administrator"), find it in the history; screenshots at desktop and phone widths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { Resources, artifacts, launchBrowser, screenshot, startDomain, startPorthole, waitFor } from './lib.mjs';

const KEY = 'e2e-dashboard-admin-0123456789';
const enabled = process.env.PORTHOLE_E2E_LIBVIRT === '1';

async function signIn(page, base, key = KEY) {
    await page.goto(`${base}/dashboard`);
    await page.fill('#key', key);
    await page.click('#signin-button');
}

/** Clicks Refresh until `selector` is on the page. */
async function refreshUntil(page, what, selector) {
    await waitFor(what, async () => {
        if (await page.$(selector)) return true;
        await page.click('#refresh');
        return false;
    }, 20000);
}

test('dashboard: sign in, open a console, see the session, end it, see the history', { skip: !enabled && 'set PORTHOLE_E2E_LIBVIRT=1', timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const quiet = startDomain(res, 'dash');
        const exposed = startDomain(res, 'dashexp', "<graphics type='vnc' autoport='yes' listen='0.0.0.0'/>");
        const p = await startPorthole(res, { nodes: [{ name: 'local', uri: 'qemu:///system' }],
            extra: ['[[api.keys]]', 'name = "ops"', `secret = "${KEY}"`, 'role = "admin"'] });
        const browser = await launchBrowser(res);
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(e.message));

        // A wrong key is refused on the sign-in form.
        await signIn(page, p.base, 'not-a-key-at-all-0123');
        await page.waitForSelector('#signin-error:not([hidden])');
        assert.match(await page.textContent('#signin-error'), /not accepted/);

        await signIn(page, p.base);
        await page.waitForSelector('body[data-loaded]', { timeout: 30000 });
        assert.equal(await page.evaluate(() => window.sessionStorage.getItem('porthole.apiKey')), KEY, 'the key lives in sessionStorage');
        assert.equal((await context.cookies()).length, 0, 'no cookie');
        const row = page.locator(`#instances tr[data-instance="${quiet}"]`);
        await row.waitFor();
        assert.match(await row.textContent(), /running/);
        assert.match(await row.locator('td[data-label="VNC"]').textContent(), /^127\.0\.0\.1:\d+$/);
        assert.match(await row.locator('td[data-label="Exposure"]').textContent(), /not exposed/);
        const bad = page.locator(`#instances tr[data-instance="${exposed}"]`);
        assert.match(await bad.locator('td[data-label="Exposure"]').textContent(), /^exposed$/);
        assert.match(await bad.locator('td[data-label="Audit"]').textContent(), /high: exposed/);
        assert.match(await page.textContent('#nodes'), /node local: reachable/);
        assert.match(await page.textContent('#nodes'), /store ok/);

        // Open console: minted through the API, opened in a new tab.
        const [consolePage] = await Promise.all([context.waitForEvent('page'), row.locator('button.open').click()]);
        await consolePage.waitForSelector('body[data-state="connected"]', { timeout: 30000 });
        assert.match(consolePage.url(), /vnc_lite\.html\?path=%3Ftoken%3D/);

        await refreshUntil(page, 'the session in the live list', `#sessions tr[data-instance="${quiet}"]`);
        const session = page.locator(`#sessions tr[data-instance="${quiet}"]`);
        assert.match(await session.locator('td[data-label="Minted by"]').textContent(), /^ops$/);
        assert.match(await session.locator('td[data-label="Client"]').textContent(), /^127\.0\.0\.1$/);
        await screenshot(page, 'dashboard-desktop');

        // A phone, while the session is live: the same data as cards; its own tab, so it signs in again
        // (sessionStorage is per tab).
        const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
        const small = await phone.newPage();
        await signIn(small, p.base);
        await small.waitForSelector('body[data-loaded]', { timeout: 30000 });
        await small.locator(`#sessions tr[data-instance="${quiet}"]`).waitFor();
        const width = await small.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 390, `no sideways scrolling on a phone (page is ${width} px wide)`);
        await small.screenshot({ path: path.join(artifacts, 'dashboard-phone.png'), fullPage: true });

        // End it: the console page says why it closed, and does not reconnect.
        await session.locator('button.kill').click();
        await consolePage.waitForSelector('body[data-state="disconnected"]', { timeout: 10000 });
        await waitFor('the close reason on the console page', async () =>
            /Session ended by an administrator/.test(await consolePage.textContent('#notice-text')), 10000);
        await screenshot(consolePage, 'dashboard-killed-console');
        await refreshUntil(page, 'the ended session in the history', `#history tr[data-session]`);
        assert.match(await page.textContent('#history'), new RegExp(`${quiet}[\\s\\S]*killed`));
        assert.equal(await page.$(`#sessions tr[data-instance="${quiet}"]`), null, 'no longer live');
        await screenshot(page, 'dashboard-desktop-after-kill');

        // Signing out forgets the key.
        await page.click('#signout');
        await page.waitForSelector('#signin:not([hidden])');
        assert.equal(await page.evaluate(() => window.sessionStorage.getItem('porthole.apiKey')), null);
        assert.deepEqual(errors, []);
    } finally {
        await res.close();
    }
});
