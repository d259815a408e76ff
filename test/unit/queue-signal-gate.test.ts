import { afterEach, describe, expect, it } from 'vitest';
import { SignalGate, installShutdown } from '../../src/queue/index.js';
import { silentLogger } from '../../src/logger.js';

describe('SignalGate', () => {
  it('counts copies of one delivery as one request, and a later signal as a second', () => {
    let now = 1_000;
    const gate = new SignalGate({ sameDeliveryMs: 1000, now: () => now });
    expect(gate.receive()).toBe('shutdown');
    now += 5;
    expect(gate.receive()).toBe('duplicate');
    now += 994;
    expect(gate.receive()).toBe('duplicate');
    now += 1;
    expect(gate.receive()).toBe('force');
    now += 10_000;
    expect(gate.receive()).toBe('force');
  });
});

describe('installShutdown', () => {
  let remove: (() => void) | undefined;
  afterEach(() => remove?.());

  it('starts one shutdown for a doubled signal and exits at once on a later one', async () => {
    const exits: number[] = [];
    let closes = 0;
    const never = {
      name: 'slow part',
      close: () => {
        closes += 1;
        return new Promise<void>(() => undefined);
      },
    };
    remove = installShutdown([never], silentLogger(), {
      exit: (code) => exits.push(code),
      sameDeliveryMs: 200,
    });
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGTERM', 'SIGTERM');
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toBe(1);
    expect(exits).toEqual([]);
    await new Promise((r) => setTimeout(r, 250));
    process.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([1]);
  });
});
