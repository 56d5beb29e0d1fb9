// What happened to a console connection and what to do next, for every Porthole page (console.html,
// serial.html): asks the server about a token (POST /console/check), reads WebSocket close codes and
// reasons, and runs the reconnect loop (automatic with backoff, a Reconnect button, or "ask for a new
// console URL"). No DOM here: a page passes `open` (one connection) and `render` (show a state).

/** Where the page asks why a token would be refused (CONTRACTS.md, "What the browser is told"). */
export const CHECK_PATH = '/console/check';

/** Seconds between automatic attempts; the last one repeats until `MAX_RETRIES`. */
export const RETRY_DELAYS = [1, 2, 4, 8];
export const MAX_RETRIES = 8;
/** A connection that stayed up this long starts the backoff again from its first delay. */
export const STABLE_MS = 10000;

// The page's words for each reason the server gives; a reason the page does not know shows the
// server's own message. What to do about it (retry, button, new URL) is added by the page.
const REASON_TEXT = {
    missing: 'This console URL has no token in it.',
    invalid: 'This console URL is not valid: it may have expired, been cut short or mistyped, or come from another console server.',
    expired: 'This console URL has expired.',
    revoked: 'This console URL was revoked.',
    moved: 'The machine\'s console has moved (the machine was restarted or migrated), so this URL no longer reaches it.',
    origin: 'The console server refused the address this page was opened from. Open the console URL exactly as you ' +
        'were given it; if you did, the server\'s allowed_origins needs this address.',
    busy: 'The console server has as many sessions open as it allows.',
    unreachable: 'The machine\'s screen cannot be reached: the machine may be stopped, starting, or moving.',
    unavailable: 'The console server cannot check console URLs right now.',
    'shutting-down': 'The console server is restarting.',
    offline: 'The console server cannot be reached.',
    throttled: 'Too many attempts in a short time.',
};

// What each reason leads to when the server does not say `final`.
const REASON_NEXT = {
    busy: 'retry', unreachable: 'retry', unavailable: 'retry', 'shutting-down': 'retry', offline: 'retry', throttled: 'retry', missing: 'final',
};

/**
 * Asks the server about `token`. Resolves to the contract's answer
 * `{ok, reason, message, final, console_type, view_only}`, or to `{ok: false, reason: 'unsupported'}`
 * when the server has no such endpoint (an older Porthole answers 404 or 405, another proxy anything),
 * or `{ok: false, reason: 'offline'}` when the server cannot be reached at all. Never throws.
 */
export async function checkConsole(token) {
    let resp;
    try {
        resp = await fetch(CHECK_PATH, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ token }),
            cache: 'no-store',
        });
    } catch {
        return { ok: false, reason: 'offline', final: false };
    }
    let body = null;
    try { body = await resp.json(); } catch { /* not JSON: not our endpoint */ }
    if (body && typeof body.ok === 'boolean' && typeof body.reason === 'string') return body;
    if (resp.status === 429) return { ok: false, reason: 'throttled', final: false };
    return { ok: false, reason: 'unsupported', final: false };
}

/** The page's text for a refusal: its own words for a known reason, else the server's message. */
export function reasonText(answer) {
    return REASON_TEXT[answer.reason] || answer.message || `The console server refused this console (${answer.reason}).`;
}

/**
 * What to do after a check: `{next: 'connect'}`, or `{next, message}` with next one of
 * `retry` (automatically, with backoff), `button` (offer Reconnect) or `final` (a new URL is needed).
 * An `unsupported` answer means "connect as before": the connection will tell.
 */
export function afterCheck(answer) {
    if (answer.ok || answer.reason === 'unsupported') return { next: 'connect' };
    const next = answer.final ? 'final' : REASON_NEXT[answer.reason] || 'button';
    return { next, message: reasonText(answer) };
}

// Close reasons (CONTRACTS.md) after which this console URL can never work again.
const FINAL_CLOSES = [/^console reset/i, /^instance stopped/i, /^token expired/i];

/**
 * What to do after a connection ended. `closed` is `{code, reason, connected, failure}`: the
 * WebSocket's close code and reason, whether the VNC session got as far as connected, and a
 * failure the client itself noticed (e.g. a VNC security failure; with `final` and `action` when
 * nothing can be retried, e.g. noVNC missing). `next: 'check'` means the close
 * said nothing useful, so ask the server (see `afterCheckOfClose`).
 */
export function afterClose({ code, reason, failure, final, action }) {
    if (failure) return { next: final ? 'final' : 'button', message: failure, action };
    const said = reason ? `${reason.replace(/\.?$/, '.')}` : '';
    if (said && FINAL_CLOSES.some((re) => re.test(reason))) return { next: 'final', message: said };
    switch (code) {
        case 1001: return { next: 'retry', message: said || 'The console server is restarting.' };
        case 1011: return { next: 'retry', message: said || 'The machine\'s screen stopped answering.' };
        case 1000: return { next: 'button', message: said || 'The console was closed.' };
        case 1002: return { next: 'button', message: said || 'The console connection broke (protocol error).' };
        case 1008: return { next: 'button', message: said || 'The console server ended the session.' };
        default: return said ? { next: 'button', message: said } : { next: 'check' };
    }
}

/** After a close that gave no reason: what the server's answer about the token says to do. */
export function afterCheckOfClose(answer, { connected }) {
    if (answer.reason === 'unsupported') {
        return connected
            ? { next: 'retry', message: 'The connection was lost.' }
            : { next: 'button', message: 'The console server refused the connection: the console URL may be invalid or expired.' };
    }
    if (answer.ok) return { next: 'retry', message: connected ? 'The connection was lost.' : 'The connection failed.' };
    return afterCheck(answer);
}

/**
 * One console's life: check, connect, and after each close decide between reconnecting by itself,
 * offering a button, or stopping for good. `open({viewOnly, consoleType, connected})` (from the
 * server's answer; consoleType null when it did not say) starts one connection and
 * resolves with `{code, reason, connected, failure}` when it ends (calling `connected()` once the
 * session is up); `render(view)` shows `{phase, message, seconds}` where phase is one of
 * `connecting`, `connected`, `waiting` (an automatic retry in `seconds`), `stopped` (Reconnect
 * button) or `final` (ask for a new console URL). `token` null means "no check": a page whose
 * WebSocket authenticates some other way (a cookie) behaves as before the check existed. `check`
 * and `tickMs` (one second of the countdown) are there for tests.
 */
export class ConsoleSession {
    constructor({ token, open, render, delays = RETRY_DELAYS, maxRetries = MAX_RETRIES, stableMs = STABLE_MS, check = checkConsole, tickMs = 1000 }) {
        Object.assign(this, { token, open, render, delays, maxRetries, stableMs, check, tickMs });
        this.retries = 0;
        this.wake = null; // resolves the current wait early (the Reconnect button)
    }

    /** Runs until the console URL is of no more use; never rejects. */
    async run() {
        for (;;) {
            const step = await this.attempt();
            if (step.next === 'final') {
                this.render({ phase: 'final', message: step.message, action: step.action });
                return;
            }
            if (step.next === 'retry' && this.retries < this.maxRetries) {
                const delay = this.delays[Math.min(this.retries, this.delays.length - 1)];
                this.retries += 1;
                await this.countdown(delay, step.message);
            } else {
                const gaveUp = step.next === 'retry' ? ` Gave up after ${this.retries} attempts.` : '';
                this.render({ phase: 'stopped', message: step.message + gaveUp });
                await new Promise((resolve) => { this.wake = resolve; });
                this.retries = 0;
            }
        }
    }

    /** The Reconnect (or "Reconnect now") button. */
    reconnectNow() {
        if (this.wake) this.wake();
    }

    async attempt() {
        this.render({ phase: 'connecting' });
        let answer = { ok: true, view_only: false };
        if (this.token !== null) {
            answer = await this.check(this.token);
            const verdict = afterCheck(answer);
            if (verdict.next !== 'connect') return verdict;
        }
        let upSince = null;
        const closed = await this.open({
            viewOnly: answer.view_only === true,
            consoleType: answer.console_type ?? null,
            connected: () => {
                upSince = Date.now();
                this.render({ phase: 'connected' });
            },
        });
        closed.connected = upSince !== null;
        if (upSince !== null && Date.now() - upSince >= this.stableMs) this.retries = 0;
        const verdict = afterClose(closed);
        if (verdict.next !== 'check') return verdict;
        const again = this.token === null ? { ok: false, reason: 'unsupported' } : await this.check(this.token);
        return afterCheckOfClose(again, closed);
    }

    async countdown(seconds, message) {
        let woken = false;
        const early = new Promise((resolve) => { this.wake = () => { woken = true; resolve(); }; });
        for (let left = seconds; left > 0 && !woken; left--) {
            this.render({ phase: 'waiting', message, seconds: left });
            await Promise.race([early, new Promise((r) => setTimeout(r, this.tickMs))]);
        }
        this.wake = null;
    }
}

/** The token in a noVNC-style `path` parameter (`?token=…`, `websockify?token=…`), or null. */
export function tokenFromPath(path) {
    const query = path.includes('?') ? path.slice(path.indexOf('?') + 1) : '';
    return new URLSearchParams(query).get('token');
}

/** The WebSocket URL for a `path` parameter, on the page's own host (ws: or wss: to match). */
export function websocketUrl(path) {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${window.location.host}/${path.replace(/^\//, '')}`;
}
