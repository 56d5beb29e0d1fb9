// PAGE-ONLY test of the serial console page (web/serial.html) in headless Chromium: the page talks to
// a tiny WebSocket server in this file that behaves like a guest's shell on a serial line (echoes
// keys, runs `echo`, floods, closes with the proxy's close codes) and answers /console/check for a
// few made-up tokens, not to porthole. The end to end tests through `porthole serve` to a real
// guest are in serial.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { artifacts, launchBrowser, repoRoot, Resources, waitFor } from './lib.mjs';

const web = path.join(repoRoot, 'web');
// The routes the page expects from the proxy (see the README, "Serial consoles").
const ROUTES = {
    '/serial.html': 'serial.html', '/serial.js': 'serial.js', '/serial.css': 'serial.css', '/status.js': 'status.js', '/favicon.svg': 'favicon.svg',
    '/xterm/': 'node_modules/@xterm/xterm/', '/xterm-fit/': 'node_modules/@xterm/addon-fit/',
};
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

// The server's answers to POST /console/check, by token; other tokens get a 404 (an older Porthole:
// the page connects as before).
const CHECKS = {
    'vnc-token': { ok: true, reason: 'ok', message: 'ok', final: false, console_type: 'novnc', view_only: false },
    'expired-token': { ok: false, reason: 'expired', message: 'expired', final: true },
};

function serveStatic(req, res) {
    const url = new URL(req.url, 'http://x');
    if (req.method === 'POST' && url.pathname === '/console/check') {
        let body = '';
        req.on('data', (d) => { body += d; });
        req.on('end', () => {
            const answer = CHECKS[JSON.parse(body).token];
            if (!answer) { res.writeHead(404).end(); return; }
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        });
        return;
    }
    const prefix = Object.keys(ROUTES).find((r) => (r.endsWith('/') ? url.pathname.startsWith(r) : url.pathname === r));
    const file = prefix && path.join(web, ROUTES[prefix] + url.pathname.slice(prefix.length));
    if (!file || !file.startsWith(web) || !fs.existsSync(file)) {
        res.writeHead(404).end();
        return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
}

// One WebSocket frame from the server (unmasked).
function frame(opcode, payload) {
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, len])
        : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 255])
            : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
    return Buffer.concat([head, payload]);
}

// A shell on a serial line, as far as the page can tell.
class FakeGuest {
    constructor(sock, log) {
        this.sock = sock;
        this.log = log; // every byte the page sent
        this.line = '';
        this.out('fake guest: serial console\r\n\r\nguest# ');
    }
    out(text) { if (!this.sock.writableEnded) this.sock.write(frame(2, Buffer.from(text))); }
    close(code, reason) {
        const body = Buffer.concat([Buffer.from([code >> 8, code & 255]), Buffer.from(reason)]);
        this.sock.end(frame(8, body));
    }
    input(bytes) {
        this.log.push(...bytes);
        for (const b of bytes) {
            if (b === 13) this.enter();
            else if (b === 127) { if (this.line) { this.line = this.line.slice(0, -1); this.out('\b \b'); } }
            else if (b >= 32) { this.line += String.fromCharCode(b); this.out(String.fromCharCode(b)); }
        }
    }
    enter() {
        const cmd = this.line;
        this.line = '';
        this.out('\r\n');
        if (cmd === 'takeover') return this.close(1008, 'Serial console taken over by another session');
        if (cmd === 'expire') return this.close(1008, 'Token expired');
        if (cmd.startsWith('echo ')) this.out(`${cmd.slice(5)}\r\n`);
        const flood = cmd.match(/^flood (\d+)$/);
        if (flood) this.out(Array.from({ length: Number(flood[1]) }, (_, i) => `line ${i}\r\n`).join(''));
        this.out('guest# ');
    }
}

// Reads masked client frames from `sock` and hands payloads to the guest; answers close and ping.
function pump(sock, guest) {
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
            if (buf.length < 2) return;
            const opcode = buf[0] & 15;
            let len = buf[1] & 127, at = 2;
            if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
            if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
            if (buf.length < at + 4 + len) return;
            const mask = buf.subarray(at, at + 4);
            const data = Buffer.from(buf.subarray(at + 4, at + 4 + len).map((b, i) => b ^ mask[i % 4]));
            buf = buf.subarray(at + 4 + len);
            if (sock.writableEnded) return;
            if (opcode === 8) { sock.end(frame(8, data.subarray(0, 2))); return; }
            if (opcode === 9) sock.write(frame(10, data));
            if (opcode === 1 || opcode === 2) guest.input(data);
        }
    });
}

async function startServer(res) {
    const state = { upgrades: [], sent: [] };
    const server = http.createServer(serveStatic);
    server.on('upgrade', (req, sock) => {
        const key = req.headers['sec-websocket-key'];
        const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        const protocols = (req.headers['sec-websocket-protocol'] || '').split(',').map((p) => p.trim());
        state.upgrades.push({ url: req.url, protocols });
        sock.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade',
            `Sec-WebSocket-Accept: ${accept}`, ...(protocols.includes('binary') ? ['Sec-WebSocket-Protocol: binary'] : []), '', ''].join('\r\n'));
        const log = [];
        state.sent.push(log);
        pump(sock, new FakeGuest(sock, log));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    res.add(() => new Promise((r) => { server.closeAllConnections(); server.close(r); }));
    return { state, base: `http://127.0.0.1:${server.address().port}` };
}

// The terminal's whole buffer (scrollback and screen), one string per line.
const lines = (page) => page.evaluate(() => {
    const b = window.porthole.term.buffer.active;
    return Array.from({ length: b.length }, (_, i) => b.getLine(i).translateToString(true));
});
const hasLine = async (page, text) => (await lines(page)).includes(text);
const statusText = (page) => page.textContent('#status');
const notice = async (page) => ({
    shown: await page.isVisible('#notice'), text: await page.textContent('#notice-text'), action: await page.textContent('#notice-action'),
});

test('serial page (page only, fake terminal server): shell, copy/paste, scrollback, resize, close reasons', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const { state, base } = await startServer(res);
        const browser = await launchBrowser(res);
        const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
        await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
        const page = await context.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(e.message));

        await page.goto(`${base}/serial.html?path=%3Ftoken%3Dtok123&title=guest1`);
        await page.waitForSelector('body[data-state="connected"]', { timeout: 20000 });
        assert.deepEqual(state.upgrades[0], { url: '/?token=tok123', protocols: ['binary'] });
        assert.equal(await page.title(), 'guest1');
        await waitFor('the prompt', () => hasLine(page, 'guest# '));

        // Typing: keys go out as bytes, the echo and the command's output come back.
        await page.keyboard.type('echo porthole-serial-OK');
        await page.keyboard.press('Enter');
        await waitFor('the command output', () => hasLine(page, 'porthole-serial-OK'));
        assert.equal(Buffer.from(state.sent[0]).toString(), 'echo porthole-serial-OK\r');

        // Paste from the box: line ends become CR, as a terminal sends them.
        await page.click('#paste-box summary');
        await page.fill('#paste-text', 'echo pasted-1\necho pasted-2\n');
        await page.click('#paste');
        await waitFor('pasted commands', () => hasLine(page, 'pasted-2'));
        assert.ok(Buffer.from(state.sent[0]).toString().endsWith('echo pasted-1\recho pasted-2\r'));

        // Copy: the selection goes to the clipboard (button, and Ctrl+Shift+C without sending ^C).
        const row = (await lines(page)).indexOf('porthole-serial-OK');
        await page.evaluate((row) => window.porthole.term.select(0, row, 'porthole-serial-OK'.length), row);
        await page.click('#copy');
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), 'porthole-serial-OK');
        const before = state.sent[0].length;
        await page.evaluate(() => navigator.clipboard.writeText('-'));
        await page.keyboard.press('Control+Shift+C');
        await waitFor('Ctrl+Shift+C copies', async () => (await page.evaluate(() => navigator.clipboard.readText())) === 'porthole-serial-OK');
        assert.equal(state.sent[0].length, before, 'Ctrl+Shift+C must not reach the guest');

        // Scrollback: 2000 lines stay scrollable.
        await page.keyboard.type('flood 2000');
        await page.keyboard.press('Enter');
        await waitFor('the flood', () => hasLine(page, 'line 1999'));
        const scroll = await page.evaluate(() => {
            const t = window.porthole.term;
            t.scrollToTop();
            return { length: t.buffer.active.length, rows: t.rows, top: t.buffer.active.viewportY, base: t.buffer.active.baseY };
        });
        assert.ok(scroll.length > 2000 && scroll.base > 1900 && scroll.top === 0, JSON.stringify(scroll));
        await page.screenshot({ path: path.join(artifacts, 'serial-page-scrollback.png') });
        await page.evaluate(() => window.porthole.term.scrollToBottom());

        // Resize: the terminal follows the window, and the bar says the size.
        const size = () => page.evaluate(() => ({ cols: window.porthole.term.cols, rows: window.porthole.term.rows }));
        const big = await size();
        await page.setViewportSize({ width: 640, height: 420 });
        const small = await waitFor('the terminal to shrink', async () => { const s = await size(); return s.cols < big.cols && s.rows < big.rows && s; });
        assert.equal(await page.textContent('#size'), `${small.cols}×${small.rows}`);
        await page.setViewportSize({ width: 1000, height: 700 });
        await page.screenshot({ path: path.join(artifacts, 'serial-page-connected.png') });

        // Taken over: the reason shows, and Reconnect takes the console back.
        await page.keyboard.type('takeover');
        await page.keyboard.press('Enter');
        await page.waitForSelector('body[data-state="disconnected"]');
        assert.equal(await statusText(page), 'Disconnected');
        assert.deepEqual(await notice(page), { shown: true, text: 'Serial console taken over by another session.', action: '' });
        assert.ok(await hasLine(page, '[porthole: disconnected: Serial console taken over by another session]'));
        assert.equal(await page.isDisabled('#paste'), true);
        await page.screenshot({ path: path.join(artifacts, 'serial-page-taken-over.png') });
        assert.equal(await page.isVisible('#reconnect'), true);
        await page.click('#reconnect');
        await page.waitForSelector('body[data-state="connected"]');
        assert.equal(state.upgrades.length, 2);
        assert.ok(await hasLine(page, 'porthole-serial-OK'), 'scrollback survives a reconnect');

        // A final reason: a new console URL is needed, no Reconnect.
        await waitFor('the new prompt', async () => (await lines(page)).filter((l) => l === 'guest# ').length > 0);
        await page.keyboard.type('expire');
        await page.keyboard.press('Enter');
        await page.waitForSelector('body[data-state="disconnected"]');
        assert.equal(await statusText(page), 'Disconnected');
        assert.deepEqual(await notice(page),
            { shown: true, text: 'Token expired.', action: 'Ask for a new console URL: this one cannot be used again.' });
        assert.equal(await page.isVisible('#reconnect'), false);

        // No token in the URL.
        const bare = await context.newPage();
        await bare.goto(`${base}/serial.html`);
        await bare.waitForSelector('body[data-state="disconnected"]');
        assert.equal(await bare.textContent('#notice-text'), 'This console URL has no token in it.');

        // The server's check: a VNC console's URL, and an expired one, never reach the WebSocket.
        const vnc = await context.newPage();
        await vnc.goto(`${base}/serial.html?path=%3Ftoken%3Dvnc-token`);
        await vnc.waitForSelector('body[data-state="disconnected"]');
        assert.deepEqual(await notice(vnc), {
            shown: true, text: 'This console URL is for a screen (a VNC console), not a serial console.',
            action: 'Open it with the console page (vnc_lite.html).',
        });
        const gone = await context.newPage();
        await gone.goto(`${base}/serial.html?path=%3Ftoken%3Dexpired-token`);
        await gone.waitForSelector('body[data-state="disconnected"]');
        assert.equal(await gone.textContent('#notice-text'), 'This console URL has expired.');
        assert.equal(await gone.isVisible('#reconnect'), false);
        assert.equal(state.upgrades.length, 2);
        assert.deepEqual(errors, []);
    } finally {
        await res.close();
    }
});
