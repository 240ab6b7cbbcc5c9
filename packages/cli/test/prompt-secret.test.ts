import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { promptSecret } from '../src/prompt-secret.js';
import { UsageError } from '../src/usage-error.js';

class FakeTty extends EventEmitter {
  raw: boolean[] = [];
  setRawMode(raw: boolean) {
    this.raw.push(raw);
  }
  setEncoding() {}
  resume() {}
  pause() {}
}

describe('promptSecret', () => {
  it('reads a line in raw mode without echoing it, honouring backspace', async () => {
    const tty = new FakeTty();
    let shown = '';
    const answer = promptSecret('Share: ', tty, { write: (text) => (shown += text) });
    tty.emit('data', 'abx\u007fc');
    tty.emit('data', 'd\rignored');
    await expect(answer).resolves.toBe('abcd');
    expect(shown).toBe('Share: \n');
    expect(tty.raw).toEqual([true, false]);
    expect(tty.listenerCount('data')).toBe(0);
  });

  it('cancels on Ctrl-C', async () => {
    const tty = new FakeTty();
    const answer = promptSecret('Share: ', tty, { write: () => undefined });
    tty.emit('data', 'ab\u0003');
    await expect(answer).rejects.toBeInstanceOf(UsageError);
    expect(tty.raw).toEqual([true, false]);
  });
});
