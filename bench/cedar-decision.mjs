#!/usr/bin/env node
// What one Cedar authorization decision costs (docs/performance.md, "Cedar decisions"). Not a test.
// Run after `npm run build`: node bench/cedar-decision.mjs [--rounds N]
//
// Measures, on one realistic request (a key-user decrypting with a grant, through
// the shipped policies plus the three shipped examples):
//   - uncached: CedarAuthorizer.explain, which skips the cache (build the Cedar
//     request and evaluate it against the preparsed policy set);
//   - cached: CedarAuthorizer.authorize on a warm cache, with a grants array it has
//     not seen (build the request's cache key, and look it up);
//   - remembered: CedarAuthorizer.authorize with the same principal, key record and
//     grants objects within the hour (what the encrypt path does on a cached key).
// Each figure is the median of --rounds rounds (default 7) of a fixed number of calls.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CedarAuthorizer, compilePolicies } from '../packages/server/dist/policy/cedar/index.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' } } });
const rounds = Number(values.rounds);
const examples = fileURLToPath(new URL('../docs/cedar-examples/', import.meta.url));
const sources = ['no-cross-environment.cedar', 'service-business-hours.cedar', 'no-critical-export.cedar'].map((name) => ({
  name,
  text: readFileSync(join(examples, name), 'utf8'),
}));
const policies = compilePolicies(sources);
const authorizer = new CedarAuthorizer({ policies: { current: () => policies } });

const request = {
  principal: {
    id: 'billing',
    kind: 'service',
    roles: ['key-user'],
    environments: ['prod'],
    teams: ['team-billing'],
    createdAt: '',
    disabled: false,
    tokenId: 't',
  },
  action: 'crypto.decrypt',
  key: {
    record: {
      id: 'k',
      namespace: 'default',
      name: 'invoices',
      algorithm: 'aes-256-gcm',
      state: 'enabled',
      owner: 'team-billing',
      class: 'high',
      environment: 'prod',
      tags: { team: 'billing', tier: 'gold' },
    },
    grants: [
      { id: 'g1', keyId: 'k', principal: 'team-billing', operations: ['encrypt', 'decrypt'], createdAt: '', createdBy: 'admin' },
      { id: 'g2', keyId: 'k', principal: 'reporting', operations: ['decrypt'], createdAt: '', createdBy: 'admin' },
    ],
  },
  now: new Date('2026-06-02T12:00:00Z'),
};

function measure(label, calls, fn) {
  for (let i = 0; i < Math.min(calls, 2000); i++) fn(); // warm up
  const perCall = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    perCall.push(Number(process.hrtime.bigint() - start) / 1000 / calls);
  }
  perCall.sort((a, b) => a - b);
  const median = perCall[Math.floor(perCall.length / 2)];
  console.log(`${label}: median ${median.toFixed(2)} µs per decision (rounds: ${perCall.map((v) => v.toFixed(1)).join(', ')})`);
}

if (!authorizer.authorize(request).allowed) throw new Error('the measured request should be allowed');
measure('uncached (Cedar evaluation)', 2_000, () => authorizer.explain(request));
const { record, grants } = request.key;
measure('cached (warm decision cache)', 100_000, () => authorizer.authorize({ ...request, key: { record, grants: [...grants] } }));
measure('remembered (same objects, same hour)', 1_000_000, () => authorizer.authorize(request));
