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
    logRequest(log, 200, 0.4, () => line);
    logRequest(log, 200, SLOW_REQUEST_MS, () => line);
    logRequest(log, 403, 0.2, () => line);
    logRequest(log, 503, 0.2, () => line);
    expect(lines.map((l) => [l.level, l.status, l.msg])).toEqual([
      [30, 200, 'request'],
      [30, 403, 'request'],
      [40, 503, 'request'],
    ]);
    expect(lines[0]).toMatchObject({ requestId: 'r-1', route: '/v1/keys/:name/encrypt', ms: SLOW_REQUEST_MS });
  });

  it('at debug: every request; at warn: only 5xx; silent: nothing', () => {
    const debug = capture('debug');
    logRequest(debug.log, 200, 0.4, () => line);
    expect(debug.lines).toEqual([expect.objectContaining({ level: 20, status: 200 })]);
    const warn = capture('warn');
    logRequest(warn.log, 404, 0.4, () => line);
    logRequest(warn.log, 500, 0.4, () => line);
    expect(warn.lines.map((l) => l.status)).toEqual([500]);
    const silent = capture('silent');
    logRequest(silent.log, 500, 0.4, () => line);
    expect(silent.lines).toEqual([]);
  });

  it('describes the request only for a line it writes (Fastify builds the route and source on each read)', () => {
    const { log, lines } = capture('info');
    let described = 0;
    const describe = () => {
      described++;
      return { ...line, events: 3 };
    };
    logRequest(log, 200, 0.4, describe);
    expect(described).toBe(0);
    logRequest(log, 403, 0.4, describe);
    expect(described).toBe(1);
    expect(lines).toEqual([
      {
        level: 30,
        time: expect.any(Number),
        pid: expect.any(Number),
        hostname: expect.any(String),
        ...line,
        status: 403,
        ms: 0.4,
        events: 3,
        msg: 'request',
      },
    ]);
  });
});
