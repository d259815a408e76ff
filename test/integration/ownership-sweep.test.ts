// Lost notifications: keyspace events are fire-and-forget. With no process subscribed when a
// crashed owner's lock expires, the sweep job scheduler still finds the orphaned stream and a live
// process claims it; streams with a live lock are never taken, however long they are pending.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { addStreams } from '../../src/ownership/index.js';
import {
  Fleet,
  REDIS_URL,
  cleanupService,
  lockOwners,
  ownershipConfig,
  ownershipEnv,
  sleep,
  uniqService,
} from '../helpers/ownership-kit.js';

const TTL = 1000;
const SWEEP = 1000;

describe('sweep', () => {
  const service = uniqService();
  const env = { LOCK_TTL_MS: String(TTL), SWEEP_INTERVAL_MS: String(SWEEP) };
  const config = ownershipConfig(service, env);
  // OWN_KEYSPACE=0: no process subscribes to expired-key events.
  const fleet = new Fleet(ownershipEnv(service, env));
  const redis = new Redis(REDIS_URL);

  afterAll(async () => {
    await fleet.closeAll();
    await cleanupService(service, config);
    redis.disconnect();
  }, 60_000);

  it('recovers a crashed owner’s streams with no expiry listener, within one sweep interval plus TTL', async () => {
    await fleet.spawn(3, { OWN_KEYSPACE: '0' });
    const names = Array.from({ length: 12 }, (_, i) => `${service}-w${i}`);
    await addStreams(
      redis,
      service,
      names.map((name) => ({ name })),
    );
    await fleet.waitFor(
      () => fleet.of('StreamAdded').length >= names.length,
      30_000,
      'streams added',
    );
    const [victim, ...survivors] = [...fleet.children].sort(
      (a, b) => fleet.ownedBy(b).size - fleet.ownedBy(a).size,
    );
    if (!victim) throw new Error('no child');
    const theirs = fleet.ownedBy(victim);
    const kept = new Map(survivors.map((c) => [c.name, fleet.ownedBy(c)]));
    // Let the survivors' LBS entries idle well past the TTL so the sweep looks at them too.
    await sleep(TTL + SWEEP);
    const before = fleet.messages.length;
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    const claims = await fleet.takeover(theirs, before, 20_000, 'sweep claims');
    const delays = claims().map((m) => m.at - killedAt);
    console.log(
      `sweep-only recovery of ${theirs.size} streams after kill -9: ${delays.join(', ')} ms (TTL ${TTL} + sweep ${SWEEP} ms)`,
    );
    expect(fleet.of('StreamExpired')).toEqual([]);
    expect(claims().every((m) => m.reason === 'sweep')).toBe(true);
    // A small allowance over TTL + interval covers the claim job's own processing.
    expect(Math.max(...delays)).toBeLessThanOrEqual(TTL + SWEEP + 500);

    // A few more sweeps run; streams whose owner is alive were never claimed by anyone.
    await sleep(2 * SWEEP);
    const stolen = fleet.messages.filter(
      (m) =>
        m.type === 'StreamClaimed' &&
        m.stream &&
        [...kept.values()].some((s) => s.has(m.stream ?? '')),
    );
    expect(stolen).toEqual([]);
    const owners = await lockOwners(redis, service, names);
    for (const c of survivors)
      for (const s of kept.get(c.name) ?? []) expect(owners.get(s)).toBe(c.id);
  });
});
