// The console page's view controls against a real Xvnc, through porthole serve: 1:1 with scrollbars
// reaches the far right edge of a wide screen, Pan drags the view there, "Resize machine" resizes
// Xvnc's screen to the window, and fullscreen toggles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Resources, consoleUrl, launchBrowser, openConsole, screenshot, sleep, startPorthole, startXvnc, waitFor } from './lib.mjs';

// Xvnc 2400×800 with an xterm (white) at its top-right corner, open at 1280×900.
async function wideConsole(res) {
    const x = await startXvnc(res, { geometry: '2400x800', windows: ['30x8-0+0'] });
    const p = await startPorthole(res, { targets: [{ name: 'wide', port: x.port }] });
    const browser = await launchBrowser(res);
    const page = await openConsole(browser, consoleUrl(p.config, 'wide'));
    await sleep(1000);
    return page;
}

// The noVNC canvas and its scrolling box: sizes, what is visible, and a canvas pixel.
function view(page, { scrollRight = false } = {}) {
    return page.evaluate((scrollRight) => {
        const c = document.querySelector('#screen canvas');
        const box = c.parentElement;
        if (scrollRight) box.scrollLeft = box.scrollWidth;
        const cr = c.getBoundingClientRect();
        const br = box.getBoundingClientRect();
        const px = (x, y) => Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3));
        return {
            fbWidth: c.width, fbHeight: c.height, shownWidth: cr.width,
            canvasRight: cr.right, visibleRight: br.left + box.clientWidth,
            boxWidth: box.clientWidth, boxHeight: box.clientHeight,
            // What is at the right edge of the visible area, and the canvas's right-most pixel.
            hitAtRightEdge: document.elementFromPoint(br.left + box.clientWidth - 3, br.top + 30) === c,
            rightPixel: px(c.width - 3, 30),
        };
    }, scrollRight);
}

const WHITE = [255, 255, 255];

test('1:1 scrolls to the far right edge; Pan drags the view there', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const page = await wideConsole(res);
        await page.selectOption('#scale', 'none');
        await sleep(300);
        let v = await view(page);
        assert.equal(v.shownWidth, 2400, 'one screen pixel per canvas pixel');
        assert.ok(v.canvasRight > v.visibleRight, 'the screen is wider than the window');
        assert.deepEqual(v.rightPixel, WHITE, 'the top-right xterm is drawn at the far right');

        v = await view(page, { scrollRight: true });
        assert.ok(Math.abs(v.canvasRight - v.visibleRight) < 1, `scrolled to the right edge (${v.canvasRight} vs ${v.visibleRight})`);
        assert.ok(v.hitAtRightEdge, 'the canvas is what shows at the right edge');
        await screenshot(page, 'console-1to1-far-right');

        // Pan: noVNC clips the canvas to the window and a drag moves the view.
        await page.click('#pan');
        await sleep(300);
        v = await view(page);
        assert.equal(v.fbWidth, v.boxWidth, 'the canvas is clipped to the window');
        assert.notDeepEqual(v.rightPixel, WHITE, 'before dragging, the right edge shows the middle of the screen');
        for (let i = 0; i < 2; i++) {
            await page.mouse.move(1200, 500);
            await page.mouse.down();
            await page.mouse.move(100, 500, { steps: 10 });
            await page.mouse.up();
        }
        await waitFor('the far right in view after dragging', async () => (await view(page)).rightPixel.join() === WHITE.join(), 5000);
        await screenshot(page, 'console-pan-far-right');
    } finally {
        await res.close();
    }
});

test('"Resize machine" resizes Xvnc\'s screen to the window', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const page = await wideConsole(res);
        await page.selectOption('#scale', 'remote');
        await waitFor('the screen resized to the window', async () => {
            const v = await view(page);
            return v.fbWidth === v.boxWidth && v.fbHeight === v.boxHeight;
        });
        await screenshot(page, 'console-remote-resize');
        // The choice is remembered for the next console.
        await page.reload();
        await page.waitForSelector('body[data-state="connected"]');
        assert.equal(await page.inputValue('#scale'), 'remote');
    } finally {
        await res.close();
    }
});

test('fullscreen toggles', { timeout: 120000 }, async () => {
    const res = new Resources();
    try {
        const page = await wideConsole(res);
        const state = () => page.evaluate(() => ({
            element: document.fullscreenElement?.tagName ?? null,
            pressed: document.getElementById('fullscreen').getAttribute('aria-pressed'),
        }));
        await page.click('#fullscreen');
        await waitFor('fullscreen on', async () => JSON.stringify(await state()) === '{"element":"HTML","pressed":"true"}');
        await screenshot(page, 'console-fullscreen');
        await page.click('#fullscreen');
        await waitFor('fullscreen off', async () => JSON.stringify(await state()) === '{"element":null,"pressed":"false"}');
    } finally {
        await res.close();
    }
});
