import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { logRequest, SLOW_REQUEST_MS } from '../../src/frontends/rest/request-log.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

const line = { requestId: 'r-1', method: 'POST', route: '/v1/keys/:name/encrypt', source: '127.0.0.1' };

describe('logRequest', () => {
  it('at info: refusals and slow requests, not fast successes; 5xx at warn', () => {
    const { log, lines } = capture('info');
    logRequest(log, { ...line, status: 200, ms: 0.4 });
    logRequest(log, { ...line, status: 200, ms: SLOW_REQUEST_MS });
    logRequest(log, { ...line, status: 403, ms: 0.2 });
    logRequest(log, { ...line, status: 503, ms: 0.2 });
    expect(lines.map((l) => [l.level, l.status, l.msg])).toEqual([
      [30, 200, 'request'],
      [30, 403, 'request'],
      [40, 503, 'request'],
    ]);
    expect(lines[0]).toMatchObject({ requestId: 'r-1', route: '/v1/keys/:name/encrypt', ms: SLOW_REQUEST_MS });
  });

  it('at debug: every request; at warn: only 5xx; silent: nothing', () => {
    const debug = capture('debug');
    logRequest(debug.log, { ...line, status: 200, ms: 0.4 });
    expect(debug.lines).toEqual([expect.objectContaining({ level: 20, status: 200 })]);
    const warn = capture('warn');
    logRequest(warn.log, { ...line, status: 404, ms: 0.4 });
    logRequest(warn.log, { ...line, status: 500, ms: 0.4 });
    expect(warn.lines.map((l) => l.status)).toEqual([500]);
    const silent = capture('silent');
    logRequest(silent.log, { ...line, status: 500, ms: 0.4 });
    expect(silent.lines).toEqual([]);
  });
});
