// End to end on a real guest's serial console: a TCG domain booting Debian's kernel and a busybox
// shell on ttyS0 (scripts/guest-image.sh), through `porthole serve` (libvirt's console stream, no
// port anywhere): the terminal page in headless Chromium (boot messages, prompt, a typed command,
// a second page taking the console over, a stopped guest), and the URL the real `openstack` client
// prints, opened by `porthole attach` in a pty and by the page. Runs when PORTHOLE_E2E_LIBVIRT=1
// (the README's test command starts libvirtd and sets it).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Resources, launchBrowser, openConsole, portholeBin, repoRoot, screenshot, startPorthole, tempDir, waitFor } from './lib.mjs';

const enabled = process.env.PORTHOLE_E2E_LIBVIRT === '1';
const skip = !enabled && 'set PORTHOLE_E2E_LIBVIRT=1';
const venv = process.env.PORTHOLE_VENV || path.join(os.homedir(), '.cache/porthole/venv');
const KEY = 'e2e-serial-secret-0123456789';
const PROMPT = 'guest# ';
const BOOT_MS = 120000; // 7–13 s on an idle machine under TCG; much longer when it is busy
const virsh = (...args) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' }).trim();

// The guest, created paused (a console opened first sees the boot from its first line); destroyed
// at cleanup. Its name is unique to this test.
function createGuest(res, tag) {
    const name = `ph-e2e-serial-${tag}-${process.pid}-${Date.now() % 100000}`;
    const xml = execFileSync(path.join(repoRoot, 'scripts/guest-image.sh'), ['--xml', name], { encoding: 'utf8' });
    const file = path.join(tempDir(res, 'porthole-guest-'), 'guest.xml');
    writeFileSync(file, xml);
    virsh('create', '--paused', file);
    res.add(() => { try { virsh('destroy', name); } catch { /* already gone */ } });
    return name;
}

// `porthole console url --serial`: the WebSocket URL (stdout) and the terminal page's (stderr).
function serialUrls(config, name) {
    const out = spawnSync(portholeBin, ['console', 'url', '--serial', '-c', config, name], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    return { ws: out.stdout.trim(), page: out.stderr.match(/Open in a browser: (\S+)/)[1] };
}

// The terminal's whole buffer (scrollback and screen), one string per line.
const lines = (page) => page.evaluate(() => {
    const b = window.porthole.term.buffer.active;
    return Array.from({ length: b.length }, (_, i) => b.getLine(i).translateToString(true));
});
const shows = async (page, test) => (await lines(page)).some(test);
const notice = async (page) => ({
    text: await page.textContent('#notice-text'), action: await page.textContent('#notice-action'), reconnect: await page.isVisible('#reconnect'),
});

async function typeLine(page, text) {
    await page.locator('#terminal').click();
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
}

// A command line in a pseudo-terminal (util-linux `script`): what it shows, and typing into it.
function inPty(res, line) {
    const child = spawn('script', ['-q', '-f', '-e', '-c', line, '/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
    let screen = '';
    child.stdout.on('data', (d) => { screen += d.toString('latin1'); });
    const exited = new Promise((r) => child.once('exit', r));
    res.add(async () => {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
        await exited;
    });
    return {
        screen: () => screen,
        type: (text) => child.stdin.write(text),
        shows: (text, ms = 30000) => waitFor(`the terminal to show ${JSON.stringify(text)} (it shows ${JSON.stringify(screen.slice(-300))})`,
            () => screen.includes(text), ms),
        exited,
    };
}

test('the terminal page on a real guest: boot, prompt, a command; a second page takes over; a stopped guest ends it', { skip, timeout: 300000 }, async () => {
    const res = new Resources();
    try {
        const name = createGuest(res, 'page');
        const p = await startPorthole(res, { nodes: [{ name: 'local', uri: 'qemu:///system' }] });
        const first = serialUrls(p.config, name);
        assert.match(first.ws, new RegExp(`^ws://127\\.0\\.0\\.1:${p.port}/\\?token=[A-Za-z0-9_-]{43}$`));
        assert.match(first.page, new RegExp(`^${p.base}/serial\\.html\\?path=%3Ftoken%3D[A-Za-z0-9_-]{43}$`));
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, first.page);
        virsh('resume', name);
        await waitFor('the kernel\'s boot messages', () => shows(page, (l) => l.includes('Linux version')), BOOT_MS);
        await waitFor('the shell prompt', () => shows(page, (l) => l.startsWith(PROMPT)), BOOT_MS);
        await typeLine(page, 'echo porthole-serial-OK');
        await waitFor('the command\'s output', () => shows(page, (l) => l === 'porthole-serial-OK'), 30000);
        await screenshot(page, 'serial-guest-page');

        // A second page takes the console over; the first says why and offers Reconnect.
        const second = await openConsole(browser, serialUrls(p.config, name).page);
        await page.waitForSelector('body[data-state="disconnected"]', { timeout: 20000 });
        assert.deepEqual(await notice(page), { text: 'Serial console taken over by another session.', action: '', reconnect: true });
        assert.ok(await shows(page, (l) => l === '[porthole: disconnected: Serial console taken over by another session]'));
        await screenshot(page, 'serial-guest-taken-over');
        await typeLine(second, 'echo second-page-OK');
        await waitFor('the second page\'s command', () => shows(second, (l) => l === 'second-page-OK'), 30000);
        // Reconnect takes it back.
        await page.click('#reconnect');
        await page.waitForSelector('body[data-state="connected"]', { timeout: 20000 });
        await second.waitForSelector('body[data-state="disconnected"]', { timeout: 20000 });
        await typeLine(page, 'echo back-OK');
        await waitFor('the command after taking the console back', () => shows(page, (l) => l === 'back-OK'), 30000);

        // The guest stops: "Instance stopped", and only a new console URL can help.
        virsh('destroy', name);
        await page.waitForSelector('body[data-state="disconnected"]', { timeout: 20000 });
        await waitFor('the final notice', async () => (await notice(page)).text === 'Instance stopped.');
        assert.deepEqual(await notice(page),
            { text: 'Instance stopped.', action: 'Ask for a new console URL: this one cannot be used again.', reconnect: false });
        await screenshot(page, 'serial-guest-stopped');
    } finally {
        await res.close();
    }
});

test('openstack console url show --serial: the URL opens in porthole attach (in a pty) and in the terminal page', { skip, timeout: 300000 }, async () => {
    const res = new Resources();
    try {
        const name = createGuest(res, 'openstack');
        const p = await startPorthole(res, {
            nodes: [{ name: 'local', uri: 'qemu:///system' }], extra: ['[[api.keys]]', 'name = "ops"', `secret = "${KEY}"`, 'role = "admin"'],
        });
        const out = spawnSync(path.join(venv, 'bin/openstack'), ['--os-auth-type', 'admin_token', '--os-token', KEY,
            '--os-endpoint', `${p.base}/v2.1`, 'console', 'url', 'show', '--serial', '-f', 'value', '-c', 'url', name],
        { encoding: 'utf8', timeout: 60000 });
        assert.equal(out.status, 0, `openstack failed: ${out.stderr}`);
        const url = out.stdout.trim();
        assert.match(url, new RegExp(`^ws://127\\.0\\.0\\.1:${p.port}/\\?token=[A-Za-z0-9_-]{43}$`));

        // porthole attach on that URL, in a pty, from before the guest boots.
        const term = inPty(res, `${portholeBin} attach '${url}'; echo "exit=$?"`);
        await term.shows('Escape character is ^] (Ctrl + ]).');
        virsh('resume', name);
        await term.shows('Linux version', BOOT_MS);
        await term.shows(PROMPT, BOOT_MS);
        const before = term.screen().length;
        term.type('echo porthole-serial-OK\r');
        await waitFor('the command\'s output through attach', () => term.screen().slice(before).includes('\r\nporthole-serial-OK\r\n'), 30000);
        term.type('\x1d'); // Ctrl-]: leave
        await term.shows('exit=0');
        await term.exited;

        // The same token in the terminal page.
        const token = new URL(url).searchParams.get('token');
        const browser = await launchBrowser(res);
        const page = await openConsole(browser, `${p.base}/serial.html?path=${encodeURIComponent(`?token=${token}`)}&title=${name}`);
        await typeLine(page, 'echo openstack-page-OK');
        await waitFor('the command\'s output in the page', () => shows(page, (l) => l === 'openstack-page-OK'), 30000);
        assert.equal(await page.title(), name);
        await screenshot(page, 'serial-openstack-page');
    } finally {
        await res.close();
    }
});
