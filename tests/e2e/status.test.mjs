// web/status.js on its own (node, no browser): what each check answer and close leads to, and the
// reconnect loop (backoff, giving up, the button, a stable connection starting the backoff again).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConsoleSession, afterCheck, afterCheckOfClose, afterClose, tokenFromPath } from '../../web/status.js';

test('what a check answer leads to', () => {
    assert.deepEqual(afterCheck({ ok: true, reason: 'ok' }), { next: 'connect' });
    assert.deepEqual(afterCheck({ ok: false, reason: 'unsupported' }), { next: 'connect' });
    for (const reason of ['invalid', 'expired', 'revoked', 'moved']) assert.equal(afterCheck({ ok: false, reason, final: true }).next, 'final');
    assert.equal(afterCheck({ ok: false, reason: 'missing', final: false }).next, 'final');
    for (const reason of ['busy', 'unreachable', 'unavailable', 'shutting-down', 'offline', 'throttled']) {
        assert.equal(afterCheck({ ok: false, reason, final: false }).next, 'retry', reason);
    }
    // A reason the page has no words for (e.g. "malformed"): the server's message and a button.
    assert.deepEqual(afterCheck({ ok: false, reason: 'malformed', final: false, message: 'Duplicate Host header' }),
        { next: 'button', message: 'Duplicate Host header' });
    assert.equal(afterCheck({ ok: false, reason: 'origin', final: false }).next, 'button');
    assert.deepEqual(afterCheck({ ok: false, reason: 'new-thing', final: true, message: 'Because.' }), { next: 'final', message: 'Because.' });
    assert.match(afterCheck({ ok: false, reason: 'expired', final: true, message: 'x' }).message, /has expired/);
});

test('what a close leads to', () => {
    const next = (code, reason) => afterClose({ code, reason }).next;
    assert.equal(next(1008, 'Console reset by an administrator'), 'final');
    assert.equal(next(1008, 'Instance stopped'), 'final');
    assert.equal(next(1008, 'Token expired'), 'final');
    assert.equal(next(1008, 'Idle timeout'), 'button');
    assert.equal(next(1008, 'Session ended by an administrator'), 'button');
    assert.equal(next(1008, 'Serial console taken over by another session'), 'button');
    assert.equal(next(1001, 'Going away'), 'retry');
    assert.equal(next(1011, 'VNC server failed: connection reset'), 'retry');
    assert.equal(next(1000, 'VNC server closed the connection'), 'button');
    assert.equal(next(1002, 'unmasked frame'), 'button');
    assert.equal(next(1006, ''), 'check');
    assert.equal(afterClose({ code: 1008, reason: 'Idle timeout' }).message, 'Idle timeout.');
    assert.deepEqual(afterClose({ code: 1006, failure: 'no noVNC', final: true, action: 'tell them' }), { next: 'final', message: 'no noVNC', action: 'tell them' });
    // Without a reason, the server's answer about the token decides.
    assert.equal(afterCheckOfClose({ ok: true }, { connected: true }).next, 'retry');
    assert.equal(afterCheckOfClose({ ok: false, reason: 'revoked', final: true }, { connected: true }).next, 'final');
    assert.equal(afterCheckOfClose({ ok: false, reason: 'unsupported' }, { connected: true }).next, 'retry');
    assert.equal(afterCheckOfClose({ ok: false, reason: 'unsupported' }, { connected: false }).next, 'button');
});

test('the token in a path parameter', () => {
    assert.equal(tokenFromPath('?token=abc'), 'abc');
    assert.equal(tokenFromPath('websockify?token=a-b_c&x=1'), 'a-b_c');
    assert.equal(tokenFromPath('websockify'), null);
    assert.equal(tokenFromPath(''), null);
});

// A session whose connections end as `closes` says, one after another, recording what it shows.
function session({ answers = [{ ok: true, reason: 'ok' }], closes = [], ...opts }) {
    const shown = [];
    const opened = [];
    const s = new ConsoleSession({
        token: 't',
        tickMs: 5,
        check: async () => answers[Math.min(s.checks++, answers.length - 1)],
        open: async ({ connected }) => {
            const c = closes[Math.min(opened.length, closes.length - 1)];
            opened.push(c);
            if (c.up) {
                connected();
                await new Promise((r) => setTimeout(r, c.up));
            }
            return { ...c };
        },
        render: (view) => shown.push(view),
        ...opts,
    });
    s.checks = 0;
    return { s, shown, opened };
}

test('a final check answer ends the session without connecting', async () => {
    const { s, shown, opened } = session({ answers: [{ ok: false, reason: 'revoked', final: true }] });
    await s.run();
    assert.equal(opened.length, 0);
    assert.deepEqual(shown.at(-1), { phase: 'final', message: 'This console URL was revoked.', action: undefined });
});

test('retries with backoff, gives up after maxRetries, and the button starts again', async () => {
    const { s, shown, opened } = session({ closes: [{ code: 1011, reason: 'VNC server unreachable' }], delays: [1, 2, 3], maxRetries: 4 });
    const running = s.run();
    await waitUntil(() => shown.at(-1).phase === 'stopped');
    assert.equal(opened.length, 5, 'the first attempt and four retries');
    const waits = shown.filter((v) => v.phase === 'waiting').map((v) => v.seconds);
    assert.deepEqual(waits, [1, 2, 1, 3, 2, 1, 3, 2, 1], 'countdowns of 1, 2, 3 and 3 seconds');
    assert.equal(shown.at(-1).message, 'VNC server unreachable. Gave up after 4 attempts.');
    s.reconnectNow();
    await waitUntil(() => opened.length === 6);
    s.maxRetries = 0; // let the test end: the next close stops at the button again
    await waitUntil(() => shown.at(-1).phase === 'stopped');
    void running;
});

test('a connection that stayed up long enough starts the backoff again', async () => {
    const closes = [{ code: 1006 }, { code: 1006 }, { code: 1006, up: 30 }, { code: 1008, reason: 'Token expired' }];
    const { s, shown } = session({ closes, delays: [1, 2, 4], stableMs: 20 });
    await s.run();
    const waits = shown.filter((v) => v.phase === 'waiting').map((v) => v.seconds);
    assert.deepEqual(waits, [1, 2, 1, 1], 'after the stable connection the wait is 1 s again');
    assert.equal(shown.at(-1).phase, 'final');
    assert.ok(shown.some((v) => v.phase === 'connected'));
});

async function waitUntil(fn) {
    for (let i = 0; i < 500 && !fn(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(fn(), 'condition never met');
}
