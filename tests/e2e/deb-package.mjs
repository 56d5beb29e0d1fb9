// The installed Debian package, in use (run by scripts/deb-test.sh after `dpkg -i`, not by the
// e2e suite: its name is no test file's). /usr/bin/porthole serves as the `porthole` user (setpriv:
// no systemd here) with the installed configuration plus a target: a copy of
// /etc/porthole/porthole.toml with a free loopback port instead of 6080 and a [[targets]] table for
// a real Xvnc appended (Porthole reads one file; it has no drop-in directory). Console URLs minted
// by the porthole user and by root land in the one store the installed file names, and Chromium
// opens both.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Resources, distinctColours, freePort, launchBrowser, openConsole, screenshot, sleep, snapshot, start,
    startXvnc, tempDir, waitFor } from './lib.mjs';

const INSTALLED = '/etc/porthole/porthole.toml';
const STATE = '/var/lib/porthole';
const id = (flag) => Number(execFileSync('id', [flag, 'porthole'], { encoding: 'utf8' }).trim());

// The installed configuration with its listen port changed and one target added, readable by porthole.
function configWithTarget(dir, port, vncPort) {
    const installed = readFileSync(INSTALLED, 'utf8');
    assert.equal(installed.split('listen = "127.0.0.1:6080"').length, 2, 'the installed file listens on 127.0.0.1:6080');
    const text = installed.replace('listen = "127.0.0.1:6080"', `listen = "127.0.0.1:${port}"`) +
        `\n[[targets]]\nname = "xvnc"\nhost = "127.0.0.1"\nport = ${vncPort}\n`;
    const file = path.join(dir, 'porthole.toml');
    writeFileSync(file, text, { mode: 0o640 });
    chownSync(file, 0, id('-g'));
    return file;
}

const asPorthole = (args) => ['--reuid=porthole', '--regid=porthole', '--init-groups', '--reset-env', '/usr/bin/porthole', ...args];

test('the installed package serves a console as the porthole user', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const dir = tempDir(res, 'porthole-deb-');
        execFileSync('chmod', ['755', dir]);
        const x = await startXvnc(res);
        const port = await freePort();
        const config = configWithTarget(dir, port, x.port);

        const serve = start('setpriv', asPorthole(['serve', '-c', config]));
        res.add(() => serve.stop());
        await waitFor('porthole /healthz', async () => {
            if (serve.child.exitCode !== null) {
                throw Object.assign(new Error(`porthole exited: ${serve.out.stderr.trim()}`), { fatal: true });
            }
            return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
        });
        const owner = Number(execFileSync('ps', ['-o', 'uid=', '-p', String(serve.child.pid)], { encoding: 'utf8' }).trim());
        assert.equal(owner, id('-u'), 'serve runs as porthole');

        const minted = execFileSync('setpriv', asPorthole(['console', 'url', '-c', config, 'xvnc']), { encoding: 'utf8' }).trim();
        const byRoot = execFileSync('/usr/bin/porthole', ['console', 'url', '-c', config, 'xvnc'], { encoding: 'utf8' }).trim();
        for (const url of [minted, byRoot]) assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/vnc_lite\\.html\\?path=%3Ftoken%3D`));

        const browser = await launchBrowser(res);
        for (const [name, url] of [['porthole', minted], ['root', byRoot]]) {
            const page = await openConsole(browser, url);
            await sleep(1000);
            const size = await snapshot(page, name);
            assert.deepEqual(size, { width: 1024, height: 768 });
            assert.ok(await distinctColours(page, name) > 1, 'the Xvnc screen is drawn');
            await screenshot(page, `deb-console-${name}`);
            await page.close();
        }

        // One store, in the state directory, and root's CLI run left every file there to porthole.
        assert.ok(statSync(path.join(STATE, 'porthole.db')).isFile());
        for (const f of readdirSync(STATE)) assert.equal(statSync(path.join(STATE, f)).uid, id('-u'), `${STATE}/${f} owned by porthole`);
        assert.ok(!serve.out.stderr.includes('ERROR'), serve.out.stderr);
    } finally {
        await res.close();
    }
});
