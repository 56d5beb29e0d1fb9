// What the console page says and does when a console cannot be used or ends: refusal reasons from
// POST /console/check, close codes and reasons, automatic reconnects with backoff, the Reconnect
// button, "ask for a new console URL", and the page's fallback for a server without the check.
// The tests marked page-only use stub.mjs in place of the proxy; the others run the real porthole.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Resources, clickFramebuffer, consoleUrl, keyRecorder, launchBrowser, openConsole, portholeBin, restartPorthole,
    screenshot, sleep, startPorthole, startXvnc, waitFor } from './lib.mjs';
import { startStub } from './stub.mjs';

const text = async (page, sel) => (await page.textContent(sel)).trim();

test('page-only: each refusal reason from /console/check is shown; final ones never connect', { timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const FINAL = { invalid: /not valid/, expired: /has expired/, revoked: /was revoked/, moved: /has moved/, missing: /no token/ };
        const RETRIED = { busy: /as many sessions/, unreachable: /cannot be reached/, unavailable: /cannot check console URLs/ };
        const stub = await startStub(res, {
            check: (token) => (token === 'serial' ? { ok: true, reason: 'ok', final: false, console_type: 'serial', view_only: false } : {
                ok: false, reason: token, final: token in FINAL,
                message: token === 'quarantined' ? 'The machine is quarantined by its owner.' : `server words for ${token}`,
            }),
            upgrade: () => ({ refuse: 401 }),
        });
        const browser = await launchBrowser(res);
        const pages = {};
        for (const reason of [...Object.keys(FINAL), ...Object.keys(RETRIED), 'origin', 'quarantined', 'serial']) {
            const state = reason in RETRIED ? 'reconnecting' : 'disconnected';
            pages[reason] = await openConsole(browser, stub.url(reason), state);
        }
        for (const [reason, words] of Object.entries(FINAL)) {
            const page = pages[reason];
            assert.match(await text(page, '#notice-text'), words, reason);
            assert.match(await text(page, '#notice-action'), /Ask for a new console URL/, reason);
            assert.equal(await page.isVisible('#reconnect'), false, `${reason}: nothing to retry`);
            await screenshot(page, `status-check-${reason}`);
        }
        for (const [reason, words] of Object.entries(RETRIED)) {
            const page = pages[reason];
            assert.match(await text(page, '#notice-text'), words, reason);
            // Both read at one moment: the countdown may end between two reads (a retry starts).
            const [status, button] = await page.evaluate(() => [document.querySelector('#status').textContent.trim(),
                document.querySelector('#reconnect').textContent.trim()]);
            assert.match(status, /Reconnecting in \d s/, reason);
            assert.equal(button, 'Reconnect now', reason);
            await screenshot(page, `status-check-${reason}`);
        }
        // Not final, but retrying cannot help: a button, no automatic retries.
        assert.match(await text(pages.origin, '#notice-text'), /allowed_origins/);
        assert.ok(await pages.origin.isVisible('#reconnect'));
        await screenshot(pages.origin, 'status-check-origin');
        // A reason the page does not know: the server's own words.
        assert.equal(await text(pages.quarantined, '#notice-text'), 'The machine is quarantined by its owner.');
        // A serial console's URL opened on the screen page: said so, not tried.
        assert.match(await text(pages.serial, '#notice-text'), /for a serial console/);
        assert.match(await text(pages.serial, '#notice-action'), /serial\.html/);

        await sleep(3500);
        const count = (list, token) => list.filter((c) => c.token === token).length;
        for (const reason of [...Object.keys(FINAL), 'origin', 'quarantined', 'serial']) {
            assert.equal(count(stub.checks, reason), 1, `${reason}: asked once`);
        }
        for (const reason of Object.keys(RETRIED)) assert.ok(count(stub.checks, reason) >= 3, `${reason}: asked again with backoff`);
        assert.equal(stub.upgrades.length, 0, 'no WebSocket while the check refuses');
        assert.ok(stub.checks.every((c) => c.origin === stub.base), 'the check carries the page\'s Origin');
    } finally {
        await res.close();
    }
});

test('page-only: close reasons are shown; final ones stop, others offer Reconnect or retry with backoff', { timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const CLOSES = {
            reset: { code: 1008, reason: 'Console reset by an administrator' },
            stopped: { code: 1008, reason: 'Instance stopped' },
            expired: { code: 1008, reason: 'Token expired' },
            idle: { code: 1008, reason: 'Idle timeout' },
            killed: { code: 1008, reason: 'Session ended by an administrator' },
            going: { code: 1001, reason: 'Going away' },
            failed: { code: 1011, reason: 'VNC server unreachable' },
        };
        const stub = await startStub(res, { check: () => ({ ok: true, reason: 'ok', final: false, view_only: false }), upgrade: (t) => ({ close: CLOSES[t] }) });
        const browser = await launchBrowser(res);
        const open = (token, state) => openConsole(browser, stub.url(token), state);

        const finals = {};
        for (const t of ['reset', 'stopped', 'expired']) finals[t] = await open(t, 'disconnected');
        const idle = await open('idle', 'disconnected');
        const killed = await open('killed', 'disconnected');
        const going = await open('going', 'reconnecting');
        for (const [t, page] of Object.entries(finals)) {
            assert.equal(await text(page, '#notice-text'), `${CLOSES[t].reason}.`);
            assert.match(await text(page, '#notice-action'), /Ask for a new console URL/);
            assert.equal(await page.isVisible('#reconnect'), false);
        }
        await screenshot(finals.reset, 'status-close-console-reset');
        assert.equal(await text(idle, '#notice-text'), 'Idle timeout.');
        assert.equal(await text(killed, '#notice-text'), 'Session ended by an administrator.');
        assert.equal(await text(going, '#notice-text'), 'Going away.');
        await screenshot(idle, 'status-close-idle');
        await screenshot(going, 'status-close-going-away');

        // Backoff: attempts 1, 2 and 4 seconds apart while the server keeps failing.
        await open('failed', 'reconnecting');
        const failed = () => stub.upgrades.filter((u) => u.token === 'failed');
        await waitFor('four attempts', () => failed().length >= 4, 15000);
        const gaps = failed().slice(1, 4).map((u, i) => (u.at - failed()[i].at) / 1000);
        for (const [i, want] of [1, 2, 4].entries()) assert.ok(gaps[i] >= want - 0.1 && gaps[i] < want + 0.8, `gap ${i}: ${gaps[i]} s, want ${want}`);

        // No reconnect loops after a final close or without the button.
        const once = (t) => stub.upgrades.filter((u) => u.token === t).length;
        for (const t of ['reset', 'stopped', 'expired', 'idle', 'killed']) assert.equal(once(t), 1, `${t}: one attempt only`);
        assert.ok(once('going') >= 3, 'Going away is retried by itself');
        // The button tries again (and the server's answer is shown again).
        await idle.click('#reconnect');
        await waitFor('a second attempt after Reconnect', () => once('idle') === 2);
        await idle.waitForSelector('body[data-state="disconnected"]');
    } finally {
        await res.close();
    }
});

// A porthole serving an xterm, and the token of a console URL for it.
async function realConsole(res, xvnc = {}, consoleauth = []) {
    const x = await startXvnc(res, xvnc);
    const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }], consoleauth });
    const url = consoleUrl(p.config, 'xterm');
    return { x, p, url, token: new URL(url).searchParams.get('path').split('token=')[1] };
}

test('page-only: without /console/check (404 or 405) the page connects as before', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const { p, token } = await realConsole(res);
        const browser = await launchBrowser(res);
        for (const status of [404, 405]) {
            const stub = await startStub(res, { check: () => status, upgrade: () => ({ pipe: p.port }) });
            const page = await openConsole(browser, stub.url(token));
            assert.equal(await text(page, '#status'), 'Connected', `check answered ${status}`);
            assert.equal(stub.checks.length, 1);
        }
    } finally {
        await res.close();
    }
});

test('page-only: a check that says view_only starts in view-only with the input controls hidden', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const rec = keyRecorder(res);
        const { p, token } = await realConsole(res, { command: rec.command });
        const stub = await startStub(res, {
            check: () => ({ ok: true, reason: 'ok', message: '', final: false, console_type: 'novnc', view_only: true }),
            upgrade: () => ({ pipe: p.port }),
        });
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, stub.url(token));
        assert.equal(await text(page, '#status'), 'Connected, view only');
        assert.equal(await page.getAttribute('#view-only', 'aria-pressed'), 'true');
        assert.ok(await page.isDisabled('#view-only'), 'the page cannot leave a view-only console URL\'s view-only');
        for (const sel of ['#keys', '#keys-toggle', '#paste']) assert.equal(await page.isVisible(sel), false, `${sel} hidden`);
        assert.equal(await page.evaluate(() => window.porthole.rfb.viewOnly), true);
        await sleep(800);
        await clickFramebuffer(page, 200, 100);
        await page.keyboard.type('nothing');
        await sleep(1000);
        assert.equal(rec.read().length, 0, 'no key reached the xterm');
        await screenshot(page, 'status-view-only');
    } finally {
        await res.close();
    }
});

test('reconnects by itself after the proxy restarts (real porthole)', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const { p, url } = await realConsole(res);
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, url);
        await p.proc.stop();
        await page.waitForSelector('body[data-state="reconnecting"]', { timeout: 10000 });
        assert.match(await text(page, '#notice-text'), /cannot be reached|connection was lost/);
        await screenshot(page, 'status-proxy-down');
        await restartPorthole(res, p);
        await page.waitForSelector('body[data-state="connected"]', { timeout: 20000 });
        assert.equal(await page.isVisible('#notice'), false);
        await sleep(800);
        await screenshot(page, 'status-proxy-back');
    } finally {
        await res.close();
    }
});

test('real porthole: an expired console URL says so before connecting, and a session outliving its token ends with "Token expired"', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const { p } = await realConsole(res, {}, ['enforce_session_timeout = true']);
        const mint = (ttl) => execFileSync(portholeBin, ['console', 'url', '-c', p.config, '--ttl', String(ttl), 'xterm'], { encoding: 'utf8' }).trim();
        const browser = await launchBrowser(res);
        const sockets = (page) => {
            const opened = [];
            page.on('websocket', (ws) => opened.push(ws.url()));
            return opened;
        };

        const stale = mint(1);
        await sleep(2000);
        const page = await browser.newPage();
        const opened = sockets(page);
        await page.goto(stale);
        await page.waitForSelector('body[data-state="disconnected"]', { state: 'attached' });
        assert.match(await text(page, '#notice-text'), /has expired|not valid/);
        assert.match(await text(page, '#notice-action'), /Ask for a new console URL/);
        await screenshot(page, 'status-real-expired');

        const live = await browser.newPage();
        const liveOpened = sockets(live);
        await live.goto(mint(6));
        await live.waitForSelector('body[data-state="connected"]', { state: 'attached' });
        await live.waitForSelector('body[data-state="disconnected"]', { state: 'attached', timeout: 20000 });
        assert.equal(await text(live, '#notice-text'), 'Token expired.');
        assert.equal(await live.isVisible('#reconnect'), false);
        await screenshot(live, 'status-real-token-expired');
        await sleep(3000);
        assert.equal(opened.length, 0, 'an expired URL never opens a WebSocket');
        assert.equal(liveOpened.length, 1, 'no reconnect after "Token expired"');
    } finally {
        await res.close();
    }
});
