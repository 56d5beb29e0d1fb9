// The clipboard both ways between the console page and a real Xvnc (through porthole serve): the
// panel's text reaches the X CLIPBOARD selection (read with xclip), an X selection reaches the panel
// and this computer's clipboard (async Clipboard API), and this computer's clipboard reaches X.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Resources, clickFramebuffer, consoleUrl, launchBrowser, openConsole, screenshot, sleep, start, startPorthole,
    startXvnc, waitFor } from './lib.mjs';

const xclipOut = (env) => execFileSync('xclip', ['-o', '-selection', 'clipboard'], { env, encoding: 'utf8' });

test('clipboard both ways between the page and the X selection', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const x = await startXvnc(res);
        const p = await startPorthole(res, { targets: [{ name: 'xterm', port: x.port }] });
        const browser = await launchBrowser(res);
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, permissions: ['clipboard-read', 'clipboard-write'] });
        const page = await openConsole(context, consoleUrl(p.config, 'xterm'));
        await sleep(800);

        // The panel to the machine (UTF-8 through noVNC's extended clipboard).
        await page.click('#clipboard-box summary');
        await page.fill('#clipboard', 'to the machine: ü €');
        await page.click('#paste');
        await waitFor('the text in the X clipboard', () => xclipOut(x.env) === 'to the machine: ü €');
        assert.match(await page.textContent('#clipboard-note'), /Sent to the machine/);
        await screenshot(page, 'console-clipboard-panel');

        // The machine to the panel and to this computer's clipboard.
        const owner = start('sh', ['-c', 'printf %s "from the machine ✓" | xclip -quiet -i -selection clipboard'], { env: x.env });
        res.add(() => owner.stop());
        await waitFor('the X selection in the panel', async () => await page.inputValue('#clipboard') === 'from the machine ✓');
        await waitFor('the X selection in the browser\'s clipboard', () => page.evaluate(() => navigator.clipboard.readText().then((t) => t === 'from the machine ✓')));
        await owner.stop();

        // This computer's clipboard to the machine: by itself when the screen gets the focus (reading
        // is granted), and with the "Paste from this computer" button.
        await page.evaluate(() => navigator.clipboard.writeText('copied on this computer'));
        await page.click('#clipboard-box summary'); // closes the panel and takes the focus off the screen
        await clickFramebuffer(page, 500, 500);
        await waitFor('the local clipboard in X after focusing the screen', () => xclipOut(x.env) === 'copied on this computer');

        await page.evaluate(() => navigator.clipboard.writeText('pasted with the button'));
        await page.click('#clipboard-box summary');
        await page.click('#paste-local');
        await waitFor('the button\'s text in X', () => xclipOut(x.env) === 'pasted with the button');
        assert.equal(await page.inputValue('#clipboard'), 'pasted with the button');

        // The machine's clipboard changes while this page has no focus (so nothing is written to
        // this computer's clipboard); focusing the screen again must not send the older local text
        // back over it.
        await page.evaluate(() => { document.hasFocus = () => false; });
        const newer = start('sh', ['-c', 'printf %s "newer on the machine" | xclip -quiet -i -selection clipboard'], { env: x.env });
        res.add(() => newer.stop());
        await waitFor('the newer text in the panel', async () => await page.inputValue('#clipboard') === 'newer on the machine');
        await page.evaluate(() => { delete document.hasFocus; });
        await page.click('#clipboard-box summary');
        await page.click('#clipboard-box summary');
        await clickFramebuffer(page, 500, 500);
        await sleep(1500);
        assert.equal(xclipOut(x.env), 'newer on the machine');
    } finally {
        await res.close();
    }
});
