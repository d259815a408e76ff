import { describe, expect, it } from 'vitest';
import { KafkaBreaker, jobEventId } from '../../src/queue/index.js';

describe('KafkaBreaker', () => {
  const make = () => {
    let t = 1000;
    const b = new KafkaBreaker({
      failureThreshold: 3,
      cooldownMs: 500,
      probeHoldMs: 50,
      now: () => t,
    });
    return { b, advance: (ms: number) => (t += ms) };
  };

  it('stays closed below the threshold of consecutive failed requests', () => {
    const { b } = make();
    expect(b.onFailure(1, false)).toBe(false);
    expect(b.onFailure(2, false)).toBe(false);
    expect(b.admit()).toEqual({ go: true, probe: false });
  });

  it('opens at the threshold and holds jobs for the rest of the cool-down', () => {
    const { b, advance } = make();
    expect(b.onFailure(3, false)).toBe(true);
    expect(b.current).toBe('open');
    advance(200);
    expect(b.admit()).toEqual({ go: false, holdMs: 300 });
    // Jobs still in flight when it opened are held too, not failed.
    expect(b.onFailure(4, false)).toBe(true);
  });

  it('lets exactly one probe through after the cool-down; success closes', () => {
    const { b, advance } = make();
    b.onFailure(3, false);
    advance(500);
    expect(b.admit()).toEqual({ go: true, probe: true });
    expect(b.admit()).toEqual({ go: false, holdMs: 50 });
    b.onSuccess();
    expect(b.current).toBe('closed');
    expect(b.admit()).toEqual({ go: true, probe: false });
  });

  it('a failed probe opens it again for a full cool-down', () => {
    const { b, advance } = make();
    b.onFailure(3, false);
    advance(600);
    expect(b.admit()).toMatchObject({ go: true, probe: true });
    expect(b.onFailure(4, true)).toBe(true);
    expect(b.admit()).toEqual({ go: false, holdMs: 500 });
  });

  it('a probe that stepped aside (it never reached Kafka) lets the next job probe', () => {
    const { b, advance } = make();
    b.onFailure(3, false);
    advance(600);
    expect(b.admit()).toMatchObject({ go: true, probe: true });
    expect(b.admit()).toMatchObject({ go: false });
    b.cancelProbe();
    expect(b.admit()).toMatchObject({ go: true, probe: true });
  });
});

describe('jobEventId', () => {
  it('is stable for a job and a valid event id', () => {
    const job = { id: '17', timestamp: 1_700_000_000_000, queueName: 'dualstream-publish' };
    expect(jobEventId(job)).toBe('dualstream-publish-17-1700000000000');
    expect(jobEventId(job)).toBe(jobEventId({ ...job }));
    expect(jobEventId({ ...job, id: 'a b:c' })).toBe('dualstream-publish-a_b_c-1700000000000');
  });
});
