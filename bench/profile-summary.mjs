#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time per
// function and per area (Keyward's own code, Fastify, pino, SQLite, node
// internals, GC, idle).
//
//   node bench/profile-summary.mjs FILE.cpuprofile [--top 30]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Which part of the stack a frame belongs to, from its URL. */
function area(url, name) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'V8/native (program)';
  if (!url) return `native: ${name}`;
  if (url.includes('/packages/server/')) return 'Keyward server';
  if (url.includes('/packages/crypto/')) return 'Keyward crypto';
  if (url.includes('/packages/wire/')) return 'Keyward wire';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return `npm: ${m[1]}`;
  if (url.startsWith('node:internal/')) return `node: ${url.slice(5).split('/').slice(0, 2).join('/')}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  return url;
}

export function summarizeProfile(profile, { top = 30, root = '' } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  const functions = new Map();
  const areas = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    total += us;
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    const url = callFrame.url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    const where = url ? `${url}:${callFrame.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const f = functions.get(key) ?? { name, where, selfUs: 0 };
    f.selfUs += us;
    functions.set(key, f);
    const a = area(callFrame.url, name);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const busy = total - idle || 1;
  return {
    totalMs: total / 1000,
    idleShare: idle / (total || 1),
    byArea: [...areas]
      .map(([a, us]) => ({ area: a, selfMs: us / 1000, share: us / busy }))
      .sort((x, y) => y.selfMs - x.selfMs)
      .slice(0, 15),
    top: [...functions.values()]
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.selfUs / 1000, share: f.selfUs / busy }))
      .sort((x, y) => y.selfMs - x.selfMs)
      .slice(0, top),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const topIndex = process.argv.indexOf('--top');
  const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 30;
  const s = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), { top, root: process.cwd() });
  process.stdout.write(`${s.totalMs.toFixed(0)} ms sampled, ${(100 * s.idleShare).toFixed(1)} % idle\n\nby area (share of busy time):\n`);
  for (const a of s.byArea) process.stdout.write(`  ${(100 * a.share).toFixed(1).padStart(5)} %  ${a.area}\n`);
  process.stdout.write('\ntop self time (share of busy time):\n');
  for (const f of s.top)
    process.stdout.write(`  ${(100 * f.share).toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}\n`);
}
