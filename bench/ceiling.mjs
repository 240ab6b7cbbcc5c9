#!/usr/bin/env node
// The ceiling for `npm run bench`: a bare Fastify server doing the same work as
// Keyward's encrypt route on the same payloads — parse the JSON body,
// base64-decode the plaintext, AES-256-GCM-encrypt it with node:crypto under a
// fixed in-memory key, answer JSON — and nothing else (no auth, no policy, no
// audit, no logging). Over HTTP, or HTTPS with --tls-cert/--tls-key (TLS 1.3,
// like Keyward). With --workers N (N > 1), N node:cluster workers share the
// listener, as `keyward server --workers N` does.
//
//   node bench/ceiling.mjs --listen 127.0.0.1:8300 [--tls-cert C --tls-key K] [--workers N]
//
// Routes: POST /v1/keys/:name/encrypt with {plaintext} or {items:[{plaintext}]}.
import cluster from 'node:cluster';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:8300' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    workers: { type: 'string', default: '1' },
  },
});
const workers = Number(values.workers);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === workers) process.stdout.write(`ceiling listening on ${values.listen} with ${workers} workers\n`);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  await serve();
}

async function serve() {
  const [host, port] = values.listen.split(':');
  const https =
    values['tls-cert'] && values['tls-key']
      ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']), minVersion: 'TLSv1.3' }
      : undefined;

  const key = randomBytes(32);

  function encrypt(b64) {
    const plaintext = Buffer.from(b64, 'base64');
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { ciphertext: `c1:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64')}`, keyVersion: 1 };
  }

  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, ...(https ? { https } : {}) });
  app.post('/v1/keys/:name/encrypt', async (req, reply) => {
    const body = req.body;
    if (Array.isArray(body?.items)) return { items: body.items.map((item) => encrypt(item.plaintext)) };
    if (typeof body?.plaintext !== 'string') return reply.code(400).send({ error: { code: 'invalid_request', message: 'plaintext' } });
    return encrypt(body.plaintext);
  });
  app.get('/health', async () => ({ ok: true }));

  await app.listen({ host, port: Number(port) });
  process.stdout.write(`ceiling listening on ${https ? 'https' : 'http'}://${values.listen}\n`);
  const stop = async () => {
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
