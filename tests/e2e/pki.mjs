// Certificates for the TLS tests, made with the openssl command line, and a headless Chromium whose
// only extra trust is a test CA (a throwaway NSS database in its own HOME): the certificate is
// really checked, no flag switches the check off.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser } from './lib.mjs';

export function openssl(dir, ...args) {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A CA and a server certificate it signs for `name` (X.509 v3, EC P-256), as `prefix`.pem/.key.
export function issue(dir, ca, prefix, name) {
    openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${prefix}.key`,
        '-out', `${prefix}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(path.join(dir, `${prefix}.ext`), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' +
        `extendedKeyUsage=serverAuth\nsubjectAltName=DNS:${name}\n`);
    openssl(dir, 'x509', '-req', '-in', `${prefix}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
        '-days', '2', '-extfile', `${prefix}.ext`, '-out', `${prefix}.pem`);
}

export function makeCa(dir, name, cn) {
    openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`,
        '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

// Chromium trusting `ca` (a PEM file in `dir`), with `names` resolved to 127.0.0.1.
export async function browserTrusting(res, dir, ca, names) {
    const home = path.join(dir, 'home');
    const nssdb = path.join(home, '.pki', 'nssdb');
    mkdirSync(nssdb, { recursive: true });
    execFileSync('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
    execFileSync('certutil', ['-A', '-d', `sql:${nssdb}`, '-t', 'C,,', '-n', 'porthole-test-ca', '-i', path.join(dir, ca)]);
    return launchBrowser(res, {
        args: [`--host-resolver-rules=${names.map((n) => `MAP ${n} 127.0.0.1`).join(', ')}`],
        env: { ...process.env, HOME: home },
    });
}
