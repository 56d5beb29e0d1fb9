// End to end with the real `openstack` client and schemathesis against `porthole serve`'s API:
// console URLs by name and UUID that Chromium opens, a wrong key that fails with 401, and
// generated requests that never get a 5xx or break the OpenAPI document.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Resources, launchBrowser, openConsole, screenshot, startDomain, startPorthole } from './lib.mjs';

const venv = process.env.PORTHOLE_VENV || path.join(os.homedir(), '.cache/porthole/venv');
const KEY = 'e2e-admin-secret-0123456789';
const libvirt = process.env.PORTHOLE_E2E_LIBVIRT === '1';

// With admin_token, openstacksdk takes every service's version from the one endpoint; `server list`
// wants an identity v3 proxy first, which OS_IDENTITY_ENDPOINT_OVERRIDE gives it (see the README).
function openstack(base, token, ...args) {
    return spawnSync(path.join(venv, 'bin/openstack'),
        ['--os-auth-type', 'admin_token', '--os-token', token, '--os-endpoint', `${base}/v2.1`, ...args],
        { encoding: 'utf8', timeout: 60000, env: { ...process.env, OS_IDENTITY_ENDPOINT_OVERRIDE: `${base}/identity/v3` } });
}

function openstackJson(base, token, ...args) {
    const out = openstack(base, token, ...args, '-f', 'json');
    assert.equal(out.status, 0, `openstack ${args.join(' ')} failed: ${out.stderr}`);
    return JSON.parse(out.stdout);
}

async function serveWithApi(res, nodes) {
    return startPorthole(res, { demo: true, nodes, extra: ['[[api.keys]]', 'name = "ops"', `secret = "${KEY}"`, 'role = "admin"'] });
}

test('openstack console url show --novnc relays to the demo, a libvirt domain, by name and UUID', { timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const nodes = libvirt ? [{ name: 'local', uri: 'qemu:///system' }] : [];
        const domain = libvirt ? startDomain(res, 'api') : null;
        const p = await serveWithApi(res, nodes);
        // The demo server lives in the serve process: ask its API for the UUID, as a client would.
        const r = await fetch(`${p.base}/v2.1/servers/detail?name=^demo$`, { headers: { 'X-Auth-Token': KEY } });
        const demoUuid = (await r.json()).servers[0].id;
        assert.match(demoUuid, /^[0-9a-f-]{36}$/);
        const browser = await launchBrowser(res);
        const domainUuid = domain && execFileSync('virsh', ['-c', 'qemu:///system', 'domuuid', domain], { encoding: 'utf8' }).trim();
        const keys = ['demo', demoUuid, ...(domain ? [domain, domainUuid] : [])];
        for (const key of keys) {
            const out = openstack(p.base, KEY, 'console', 'url', 'show', '--novnc', '-f', 'value', '-c', 'url', key);
            assert.equal(out.status, 0, `openstack failed for ${key}: ${out.stderr}`);
            const url = out.stdout.trim();
            assert.match(url, new RegExp(`^${p.base}/vnc_lite\\.html\\?path=%3Ftoken%3D[A-Za-z0-9_-]{43}$`));
            const page = await openConsole(browser, url);
            await screenshot(page, `api-${keys.indexOf(key)}`);
            await page.close();
        }
    } finally {
        await res.close();
    }
});

test('openstack server list, server show NAME and console url show --novnc NAME; a scoped key sees its own only', { timeout: 180000 }, async () => {
    const res = new Resources();
    try {
        const nodes = libvirt ? [{ name: 'local', uri: 'qemu:///system' }] : [];
        const domain = libvirt ? startDomain(res, 'osc') : null;
        const scoped = 'e2e-scoped-secret-0123456789';
        const p = await startPorthole(res, { demo: true, nodes, extra: [
            '[[api.keys]]', 'name = "ops"', `secret = "${KEY}"`, 'role = "admin"',
            '[[api.keys]]', 'name = "lab"', `secret = "${scoped}"`, 'role = "member"', 'instances = ["ph-e2e-osc-*"]',
        ] });
        const names = openstackJson(p.base, KEY, 'server', 'list').map((s) => s.Name);
        assert.ok(names.includes('demo'), `server list: ${names}`);
        for (const name of ['demo', ...(domain ? [domain] : [])]) {
            assert.ok(names.includes(name), `server list has ${name}: ${names}`);
            const shown = openstackJson(p.base, KEY, 'server', 'show', name);
            assert.equal(shown.name, name);
            assert.equal(shown.status, 'ACTIVE');
            assert.match(shown.id, /^[0-9a-f-]{36}$/);
            if (name === domain) assert.equal(shown['OS-EXT-SRV-ATTR:host'], 'local');
            const url = openstackJson(p.base, KEY, 'console', 'url', 'show', '--novnc', name).url;
            assert.match(url, new RegExp(`^${p.base}/vnc_lite\\.html\\?path=%3Ftoken%3D[A-Za-z0-9_-]{43}$`));
        }
        // The scoped key lists only its instances, and another's is "No Server found".
        const mine = openstackJson(p.base, scoped, 'server', 'list').map((s) => s.Name);
        assert.deepEqual(mine, domain ? [domain] : []);
        const other = openstack(p.base, scoped, 'server', 'show', 'demo');
        assert.notEqual(other.status, 0);
        assert.match(other.stderr, /No Server found for demo/);
        if (domain) assert.equal(openstackJson(p.base, scoped, 'server', 'show', domain).name, domain);
    } finally {
        await res.close();
    }
});

test('a wrong key makes the openstack client fail with 401', { timeout: 60000 }, async () => {
    const res = new Resources();
    try {
        const p = await serveWithApi(res, []);
        const out = openstack(p.base, 'not-the-key', 'console', 'url', 'show', '--novnc', 'demo');
        assert.notEqual(out.status, 0);
        assert.match(out.stderr, /401/);
    } finally {
        await res.close();
    }
});

test('schemathesis: no 5xx and no schema violations on generated input', { timeout: 300000 }, async () => {
    const res = new Resources();
    try {
        const p = await serveWithApi(res, []);
        const out = spawnSync(path.join(venv, 'bin/schemathesis'), ['run', `${p.base}/v2.1/openapi.json`, '--url', p.base,
            '-H', `X-Auth-Token: ${KEY}`, '--checks',
            'not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance',
            '--max-examples', '100', '-w', '2', '--no-color'], { encoding: 'utf8', timeout: 280000 });
        const summary = out.stdout.slice(out.stdout.indexOf('SUMMARY'));
        assert.equal(out.status, 0, `schemathesis found problems:\n${out.stdout.slice(-6000)}`);
        assert.match(summary, /passed/);
    } finally {
        await res.close();
    }
});
