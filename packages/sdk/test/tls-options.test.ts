import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeywardClient, KeywardConnectionError } from '../src/index.js';

/** The SDK's `tls` option against a TLS server that requires a client certificate (openssl makes the certificates). */
describe('KeywardClient tls: { cert, key, ca }', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kw-sdk-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  let server: Server;
  let address: string;
  const seen: string[] = [];

  beforeAll(async () => {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl('req', '-x509', ...ec, '-days', '1', '-subj', '/CN=test CA', '-keyout', file('ca.key'), '-out', file('ca.crt'));
    openssl(
      'req',
      '-x509',
      ...ec,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      file('server.key'),
      '-out',
      file('server.crt'),
    );
    openssl('req', '-new', ...ec, '-subj', '/CN=svc-billing', '-keyout', file('client.key'), '-out', file('client.csr'));
    openssl(
      'x509',
      '-req',
      '-in',
      file('client.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      file('client.crt'),
    );
    server = createServer(
      {
        cert: readFileSync(file('server.crt')),
        key: readFileSync(file('server.key')),
        ca: readFileSync(file('ca.crt')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        seen.push((req.socket as TLSSocket).getPeerCertificate().subject.CN as string);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ principal: { id: 'svc-billing' }, roles: ['key-user'] }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('presents the client certificate and trusts the given CA', async () => {
    const client = new KeywardClient({
      address,
      tls: {
        cert: readFileSync(file('client.crt'), 'utf8'),
        key: readFileSync(file('client.key')),
        ca: readFileSync(file('server.crt'), 'utf8'),
      },
    });
    expect((await client.self()).principal.id).toBe('svc-billing');
    expect(seen).toEqual(['svc-billing']);
  });

  it('without a certificate the server refuses the handshake: a connection error', async () => {
    const client = new KeywardClient({ address, tls: { ca: readFileSync(file('server.crt'), 'utf8') } });
    await expect(client.self()).rejects.toBeInstanceOf(KeywardConnectionError);
  });

  it('refuses tls settings that cannot work', () => {
    expect(() => new KeywardClient({ address: 'http://127.0.0.1:8200', tls: { ca: 'x' } })).toThrow('tls needs an https address');
    expect(() => new KeywardClient({ address, tls: { cert: 'x' } })).toThrow('tls.cert and tls.key go together');
  });
});
