// Time from opening a console URL to the first frame drawn, in headless Chromium: Porthole's page
// through `porthole serve` against noVNC's own vnc_lite.html behind websockify, in front of the same
// Xvnc (1024×768, an xterm at the top-left). Both pages run the same noVNC (web/'s @novnc/novnc
// 1.7.0 core; vnc_lite.html is Debian's novnc package's, served beside that core), so what differs is
// the page and the proxy.
//
// "First frame drawn" = the first draw (drawImage/putImageData) on a canvas in the document after
// which the xterm's white is on it at (100, 100), timed with performance.now() (milliseconds since
// the navigation started). Every run is a new browser context: an empty cache, as when a console URL
// is opened for the first time; `--warm` also times a second load in the same context.
//
// Usage: node bench/first-frame.mjs [RUNS] [--warm]   (PORTHOLE_BIN: the porthole binary, as for the
// e2e tests; needs Xvnc, xterm, websockify and /usr/share/novnc/vnc_lite.html from Debian's novnc).
import { existsSync, mkdirSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Resources, consoleUrl, freePort, launchBrowser, portholeBin, repoRoot, start, startPorthole, startXvnc, tempDir,
    waitFor } from '../tests/e2e/lib.mjs';

const runs = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) || 10);
const warm = process.argv.includes('--warm');
const LITE = '/usr/share/novnc/vnc_lite.html';

// Runs in every page before its own scripts.
function markFirstFrame() {
    const proto = CanvasRenderingContext2D.prototype;
    const read = proto.getImageData;
    for (const name of ['drawImage', 'putImageData']) {
        const draw = proto[name];
        proto[name] = function (...args) {
            const out = draw.apply(this, args);
            if (window.__firstFrame === undefined && this.canvas.isConnected && this.canvas.width > 100 && this.canvas.height > 100) {
                const [r, g, b] = read.call(this, 100, 100, 1, 1).data;
                if (r > 240 && g > 240 && b > 240) window.__firstFrame = performance.now();
            }
            return out;
        };
    }
}

// Serves Debian's vnc_lite.html with noVNC 1.7.0's core beside it.
function liteDir(res) {
    if (!existsSync(LITE)) throw new Error(`${LITE} is missing: apt-get install novnc`);
    const dir = tempDir(res, 'porthole-lite-');
    copyFileSync(LITE, path.join(dir, 'vnc_lite.html'));
    const novnc = path.join(repoRoot, 'web/node_modules/@novnc/novnc');
    for (const sub of ['core', 'vendor']) symlinkSync(path.join(novnc, sub), path.join(dir, sub));
    return dir;
}

async function startWebsockify(res, vncPort) {
    const port = await freePort();
    const proc = start('websockify', ['--web', liteDir(res), `127.0.0.1:${port}`, `127.0.0.1:${vncPort}`]);
    res.add(() => proc.stop());
    await waitFor('websockify', async () => (await fetch(`http://127.0.0.1:${port}/vnc_lite.html`)).ok);
    return `http://127.0.0.1:${port}/vnc_lite.html?host=127.0.0.1&port=${port}&path=websockify`;
}

// The first frame, and when the last noVNC module arrived (what the page waits for before it can
// open the WebSocket), both in ms since the navigation started.
async function timeLoad(context, url) {
    const page = await context.newPage();
    await page.goto(url);
    const frame = await page.waitForFunction(() => window.__firstFrame, null, { timeout: 20000, polling: 50 }).then((h) => h.jsonValue());
    const modules = await page.evaluate(() => Math.max(...performance.getEntriesByType('resource')
        .filter((e) => /\/core\/|\/vendor\//.test(e.name)).map((e) => e.responseEnd)));
    await page.close();
    return { frame, modules };
}

async function oneRun(browser, url) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript(markFirstFrame);
    try {
        const cold = await timeLoad(context, url());
        const again = warm ? await timeLoad(context, url()) : null;
        return { cold, warm: again };
    } finally {
        await context.close();
    }
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x) => x.toFixed(1);

async function main() {
    const res = new Resources();
    try {
        const x = await startXvnc(res);
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }] });
        const lite = await startWebsockify(res, x.port);
        const browser = await launchBrowser(res);
        const pages = { porthole: () => consoleUrl(p.config, 'xterm'), 'vnc_lite.html + websockify': () => lite };
        const times = Object.fromEntries(Object.keys(pages).map((k) => [k, { cold: [], warm: [], coldModules: [], warmModules: [] }]));
        await oneRun(browser, pages.porthole); // one untimed run each: the first Chromium start-up costs
        await oneRun(browser, pages['vnc_lite.html + websockify']);
        for (let i = 0; i < runs; i++) {
            for (const [name, url] of Object.entries(pages)) { // interleaved, so that drift hits both alike
                const t = await oneRun(browser, url);
                times[name].cold.push(t.cold.frame);
                times[name].coldModules.push(t.cold.modules);
                if (warm) {
                    times[name].warm.push(t.warm.frame);
                    times[name].warmModules.push(t.warm.modules);
                }
            }
        }
        const head = (w) => ` ${w}: first frame, median (min–max) ms | ${w}: noVNC loaded, median ms |`;
        const rows = ['| page |' + head('cold') + (warm ? head('warm') : ''), '|---|---|---|' + (warm ? '---|---|' : '')];
        for (const [name, t] of Object.entries(times)) {
            const cell = (xs) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
            rows.push(`| ${name} | ${cell(t.cold)} | ${fmt(median(t.coldModules))} |` + (warm ? ` ${cell(t.warm)} | ${fmt(median(t.warmModules))} |` : ''));
        }
        console.log(`Time to the first frame drawn, ${runs} runs each (node bench/first-frame.mjs ${process.argv.slice(2).join(' ')}; ${path.basename(portholeBin)} = ${portholeBin}):\n`);
        console.log(rows.join('\n'));
        const out = path.join(repoRoot, 'artifacts/bench');
        mkdirSync(out, { recursive: true });
        writeFileSync(path.join(out, 'first-frame.json'), JSON.stringify({ runs, times }, null, 2) + '\n');
    } finally {
        await res.close();
    }
}

await main();
