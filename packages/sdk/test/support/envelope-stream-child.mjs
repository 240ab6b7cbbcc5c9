// Child process of envelope-memory.integration.test.ts: streams GIB_BYTES of
// plaintext generated on the fly through encryptStream → decryptStream and
// reports the SHA-256 of what went in and came out, and the peak RSS twice:
// once the first eighth has come out (the pipeline is warm) and at the end. A
// streaming implementation's peak stops growing after the warm-up; one that
// holds the message grows with it. The address and token come from the
// environment, never from arguments.
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { KeywardClient } from '../../dist/index.js';

const total = Number(process.env.ENVELOPE_TOTAL_BYTES);
const chunkSize = 1024 * 1024;
const client = new KeywardClient({ address: process.env.KEYWARD_ADDR, token: process.env.KEYWARD_TOKEN });
const seed = randomBytes(chunkSize);
const inHash = createHash('sha256');
const outHash = createHash('sha256');
let sealedBytes = 0;
let outBytes = 0;
/** Peak RSS once the first eighth of the message has come out of the decryptor. */
let warmRssBytes = 0;
const peakRss = () => process.resourceUsage().maxRSS * 1024;

function* generate() {
  for (let offset = 0, index = 0; offset < total; offset += chunkSize, index++) {
    const chunk = Buffer.from(seed.subarray(0, Math.min(chunkSize, total - offset)));
    chunk.writeUInt32BE(index, 0);
    inHash.update(chunk);
    yield chunk;
  }
}

const context = { test: 'memory' };
await pipeline(
  Readable.from(generate()),
  client.envelope.encryptStream({ key: process.env.ENVELOPE_KEY, context }),
  async function* count(source) {
    for await (const part of source) {
      sealedBytes += part.length;
      yield part;
    }
  },
  client.envelope.decryptStream({ context }),
  new Writable({
    write(part, _encoding, callback) {
      outHash.update(part);
      outBytes += part.length;
      if (warmRssBytes === 0 && outBytes >= total / 8) warmRssBytes = peakRss();
      callback();
    },
  }),
);
process.stdout.write(
  `${JSON.stringify({
    inHash: inHash.digest('hex'),
    outHash: outHash.digest('hex'),
    outBytes,
    sealedBytes,
    warmRssBytes,
    maxRssBytes: peakRss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
  })}\n`,
);
