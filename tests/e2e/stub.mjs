// PAGE-ONLY TESTS: a stand-in for porthole serve that serves web/ as the proxy does and answers
// POST /console/check and WebSocket upgrades as a test decides (close with a code and reason, refuse
// with a status, or pipe to a real porthole so that a real session runs behind the stub's answer).
// It tests the page's reading of the contract (CONTRACTS.md, "What the browser is told"), not the
// proxy; the tests against the real proxy's /console/check live beside the proxy's own.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { repoRoot } from './lib.mjs';

const web = path.join(repoRoot, 'web');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const PAGES = ['/', '/vnc_lite.html', '/vnc_auto.html', '/console.html'];

function fileFor(pathname) {
    if (PAGES.includes(pathname)) return path.join(web, 'console.html');
    if (pathname.startsWith('/novnc/') && !pathname.includes('..')) return path.join(web, 'node_modules/@novnc/novnc', pathname.slice(7));
    if (/^\/[a-z]+\.(js|css|svg)$/.test(pathname)) return path.join(web, pathname);
    return null;
}

function tokenOf(url) {
    return new URL(url, 'http://stub').searchParams.get('token');
}

// The 101 answer, then a close frame with `code` and `reason`; the socket ends once the browser
// answers with its own close frame (or after a second).
function closeWebSocket(req, socket, { code, reason }) {
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const binary = /\bbinary\b/.test(req.headers['sec-websocket-protocol'] || '') ? 'Sec-WebSocket-Protocol: binary\r\n' : '';
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${binary}\r\n`);
    const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);
    socket.write(Buffer.concat([Buffer.from([0x88, payload.length]), payload]));
    socket.once('data', () => socket.end());
    setTimeout(() => socket.destroy(), 1000).unref();
}

// The upgrade request as it came, then bytes both ways.
function pipeTo(req, socket, head, port) {
    const up = net.connect(port, '127.0.0.1', () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        up.write(`${lines.join('\r\n')}\r\n\r\n`);
        up.write(head);
        socket.pipe(up).pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
}

/**
 * Starts the stub on a free port. `check(token)` returns the JSON answer for /console/check, or a
 * number to answer with that status and no JSON (404: a proxy without the endpoint). `upgrade(token)`
 * returns `{close: {code, reason}}`, `{refuse: status}` or `{pipe: port}`. The stub records every
 * check and upgrade with its time (`checks`, `upgrades`).
 */
export async function startStub(res, { check, upgrade }) {
    const stub = { checks: [], upgrades: [] };
    const server = http.createServer(async (req, resp) => {
        const { pathname } = new URL(req.url, 'http://stub');
        if (pathname === '/console/check' && req.method === 'POST') {
            let body = '';
            for await (const chunk of req) body += chunk;
            const { token } = JSON.parse(body);
            stub.checks.push({ token, at: Date.now(), origin: req.headers.origin });
            const answer = check(token);
            if (typeof answer === 'number') {
                resp.writeHead(answer, { 'Content-Type': 'text/plain' }).end('no such endpoint');
            } else {
                resp.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
            }
            return;
        }
        const file = req.method === 'GET' ? fileFor(pathname) : null;
        try {
            if (!file) throw new Error('not found');
            const data = await readFile(file);
            resp.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' }).end(data);
        } catch {
            resp.writeHead(404).end();
        }
    });
    const upgraded = new Set(); // upgraded sockets are the server's no more: closed at cleanup
    server.on('upgrade', (req, socket, head) => {
        upgraded.add(socket);
        socket.on('close', () => upgraded.delete(socket));
        const token = tokenOf(req.url);
        stub.upgrades.push({ token, at: Date.now() });
        const what = upgrade(token);
        if (what.close) closeWebSocket(req, socket, what.close);
        else if (what.pipe) pipeTo(req, socket, head, what.pipe);
        else socket.end(`HTTP/1.1 ${what.refuse} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    res.add(() => new Promise((resolve) => {
        for (const s of upgraded) s.destroy();
        server.closeAllConnections();
        server.close(resolve);
    }));
    stub.base = `http://127.0.0.1:${server.address().port}`;
    stub.url = (token) => `${stub.base}/vnc_lite.html?path=${encodeURIComponent(`?token=${token}`)}`;
    return stub;
}
