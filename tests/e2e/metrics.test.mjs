// Prometheus metrics with real parts: a console session through porthole serve, then /metrics on
// the dedicated [metrics] listener checked by `promtool check metrics` (Debian's prometheus), the
// main listener's /metrics behind an admin key, and a real Prometheus (its own config, a free
// port, a temporary directory) scraping both once.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Resources, freePort, launchBrowser, openConsole, start, startPorthole, tempDir, waitFor } from './lib.mjs';

const KEY = 'e2e-metrics-admin-0123456789';
const libvirt = process.env.PORTHOLE_E2E_LIBVIRT === '1';

/** The value of the sample `name{labels}` in a metrics text, or undefined. */
function sample(text, series) {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('metrics: promtool accepts them, they count a real session, a real Prometheus scrapes them', { timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const metricsPort = await freePort();
        const p = await startPorthole(res, { demo: true, nodes: libvirt ? [{ name: 'local', uri: 'qemu:///system' }] : [],
            extra: ['[[api.keys]]', 'name = "ops"', `secret = "${KEY}"`, 'role = "admin"', '[metrics]', `listen = "127.0.0.1:${metricsPort}"`] });
        const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();

        // Traffic: one console in Chromium, an API call, a refused token.
        const browser = await launchBrowser(res);
        const headers = { 'X-Auth-Token': KEY, 'Content-Type': 'application/json' };
        const listed = await fetch(`${p.base}/v2.1/servers/detail?name=^demo$`, { headers });
        assert.equal(listed.status, 200);
        const demo = (await listed.json()).servers[0].id;
        const minted = await fetch(`${p.base}/v2.1/servers/${demo}/remote-consoles`, { method: 'POST', headers,
            body: JSON.stringify({ remote_console: { protocol: 'vnc', type: 'novnc' } }) });
        const page = await openConsole(browser, (await minted.json()).remote_console.url);
        const refused = await fetch(`${p.base}/console/check`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: p.base },
            body: JSON.stringify({ token: 'x'.repeat(43) }) });
        assert.equal((await refused.json()).reason, 'invalid');

        const text = await waitFor('a live session and bytes in /metrics', async () => {
            const t = await scrape();
            return sample(t, 'porthole_sessions_live{node=""}') === 1 && sample(t, 'porthole_relayed_bytes_total{direction="to_browser"}') > 0 && t;
        });
        const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
        assert.equal(checked.status, 0, `promtool check metrics: ${checked.stdout}${checked.stderr}`);
        assert.equal(checked.stdout + checked.stderr, '', 'no lint remarks');
        assert.ok(sample(text, 'porthole_token_checks_total{stage="upgrade",outcome="ok"}') >= 1);
        assert.ok(sample(text, 'porthole_token_checks_total{stage="check",outcome="invalid"}') >= 1);
        assert.ok(sample(text, 'porthole_session_setup_seconds_count') >= 1);
        assert.ok(sample(text, 'porthole_api_requests_total{route="/v2.1/servers/detail",method="GET",status="200"}') >= 1);
        assert.ok(sample(text, 'porthole_store_operation_duration_seconds_count{op="lookup"}') >= 1);
        if (libvirt) assert.equal(sample(text, 'porthole_node_up{node="local"}'), 1);
        // (Families with no sample yet, such as handshake failures or store errors, are not written.)
        for (const family of ['porthole_audit_findings', 'porthole_api_request_duration_seconds', 'porthole_store_operation_duration_seconds']) {
            assert.match(text, new RegExp(`# TYPE ${family} `), family);
        }

        // The session ends: counted by reason, no longer live, bytes kept.
        await page.close();
        const after = await waitFor('the ended session in /metrics', async () => {
            const t = await scrape();
            return sample(t, 'porthole_sessions_live{node=""}') === 0 && sample(t, 'porthole_sessions_ended_total{reason="browser-closed"}') >= 1 && t;
        });
        assert.ok(sample(after, 'porthole_relayed_bytes_total{direction="to_browser"}') >= sample(text, 'porthole_relayed_bytes_total{direction="to_browser"}'));

        // The main listener's /metrics wants an admin key (Prometheus sends it as a bearer token).
        assert.equal((await fetch(`${p.base}/metrics`)).status, 401);
        assert.equal((await fetch(`${p.base}/metrics`, { headers: { Authorization: `Bearer ${KEY}` } })).status, 200);

        // A real Prometheus scrapes both, once each at least.
        const dir = tempDir(res, 'porthole-prom-');
        const promPort = await freePort();
        const config = path.join(dir, 'prometheus.yml');
        writeFileSync(config, [
            'global:', '  scrape_interval: 1s', 'scrape_configs:',
            '  - job_name: porthole-metrics-listener', '    static_configs:', `      - targets: ["127.0.0.1:${metricsPort}"]`,
            '  - job_name: porthole-main-listener', '    authorization:', `      credentials: "${KEY}"`,
            '    static_configs:', `      - targets: ["127.0.0.1:${p.port}"]`, '',
        ].join('\n'));
        const prom = start('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
            `--web.listen-address=127.0.0.1:${promPort}`]);
        res.add(() => prom.stop());
        const query = async (q) => {
            const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
            return (await r.json()).data.result;
        };
        await waitFor('Prometheus scraping both listeners', async () => {
            if (prom.child.exitCode !== null) throw Object.assign(new Error(`prometheus exited: ${prom.out.stderr.slice(-2000)}`), { fatal: true });
            const up = await query('up');
            return up.length === 2 && up.every((s) => s.value[1] === '1');
        }, 60000);
        const ended = await query('porthole_sessions_ended_total{reason="browser-closed"}');
        assert.equal(ended.length, 2, 'both jobs scraped the sessions counter');
        assert.ok(ended.every((s) => Number(s.value[1]) >= 1));
    } finally {
        await res.close();
    }
});
