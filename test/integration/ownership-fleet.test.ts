// 2 000 streams over 4 real ingester processes: each stream owned by exactly one, roughly
// balanced; then a graceful shutdown of one process hands its streams to the others at once.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addStreams, lbsGroup, lbsKey } from '../../src/ownership/index.js';
import {
  Fleet,
  REDIS_URL,
  cleanupService,
  lockOwners,
  ownershipConfig,
  ownershipEnv,
  uniqService,
} from '../helpers/ownership-kit.js';

const STREAMS = 2000;
const PROCESSES = 4;
// A long TTL makes the hand-off claim visibly faster than any expiry-based failover could be.
const TTL = 5000;

describe('stream distribution and hand-off across processes', () => {
  const service = uniqService();
  const env = { LOCK_TTL_MS: String(TTL), SWEEP_INTERVAL_MS: '2000' };
  const config = ownershipConfig(service, env);
  const fleet = new Fleet(ownershipEnv(service, env));
  const redis = new Redis(REDIS_URL);
  const names = Array.from({ length: STREAMS }, (_, i) => `${service}-s${i}`);

  beforeAll(async () => {
    await fleet.spawn(PROCESSES);
  }, 90_000);

  afterAll(async () => {
    await fleet.closeAll();
    await cleanupService(service, config);
    redis.disconnect();
  }, 60_000);

  it('gives each of 2 000 streams to exactly one of 4 processes, roughly balanced', async () => {
    const started = Date.now();
    await addStreams(
      redis,
      service,
      names.map((name) => ({ name, info: { n: name } })),
    );
    await fleet.waitFor(
      () => fleet.of('StreamAdded').length >= STREAMS,
      60_000,
      'all streams added',
    );
    const took = Date.now() - started;

    const perChild = fleet.children.map((c) => fleet.ownedBy(c));
    const counts = perChild.map((s) => s.size);
    console.log(
      `distribution of ${STREAMS} streams over ${PROCESSES} processes in ${took} ms: ${counts.join(' / ')} (min ${Math.min(...counts)}, max ${Math.max(...counts)})`,
    );

    // Exactly one owner each: the per-process sets are disjoint and cover every stream.
    expect(counts.reduce((a, b) => a + b, 0)).toBe(STREAMS);
    expect(new Set(perChild.flatMap((s) => [...s]))).toEqual(new Set(names));
    // Redis agrees: the lock holder and the LBS consumer of every stream is the announcing process.
    const owners = await lockOwners(redis, service, names);
    fleet.children.forEach((c, i) => {
      for (const s of perChild[i] ?? []) expect(owners.get(s)).toBe(c.id);
    });
    const pending = (await redis.xpending(lbsKey(service), lbsGroup(service))) as [
      number,
      string,
      string,
      Array<[string, string]>,
    ];
    expect(pending[0]).toBe(STREAMS);
    expect(new Map(pending[3].map(([consumer, n]) => [consumer, Number(n)]))).toEqual(
      new Map(fleet.children.map((c, i) => [c.id, counts[i]])),
    );
    // Take-one-at-a-time reading with the fair-share yield: within a quarter of the fair share
    // even when the processes get very different CPU time on a shared machine.
    const fair = STREAMS / PROCESSES;
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(fair * 0.75);
    expect(Math.max(...counts)).toBeLessThanOrEqual(fair * 1.25);
  });

  it('moves the streams of a process that shuts down to the others without waiting for the TTL', async () => {
    const leaving = fleet.children[0];
    if (!leaving) throw new Error('no child');
    const theirs = fleet.ownedBy(leaving);
    expect(theirs.size).toBeGreaterThan(0);
    const before = fleet.messages.length;
    fleet.send(leaving, { cmd: 'close' });
    const claimed = () =>
      fleet.messages
        .slice(before)
        .filter((m) => m.type === 'StreamClaimed' && m.stream && theirs.has(m.stream));
    await fleet.waitFor(
      () => new Set(claimed().map((m) => m.stream)).size >= theirs.size,
      60_000,
      'hand-off claims',
    );
    await fleet.waitFor(() => leaving.exited, 30_000, 'leaving process exit');

    const claims = claimed();
    const worst = Math.max(...claims.map((m) => m.failoverMs ?? Infinity));
    console.log(`hand-off of ${theirs.size} streams: slowest failover ${worst} ms (TTL ${TTL} ms)`);
    expect(claims.every((m) => m.reason === 'handoff')).toBe(true);
    expect(claims.every((m) => m.child !== leaving.name)).toBe(true);
    // Each stream was claimed once, before its released lock could even have expired.
    expect(claims.length).toBe(theirs.size);
    expect(worst).toBeLessThan(TTL);
    const owners = await lockOwners(redis, service, [...theirs]);
    const remaining = new Set(fleet.children.slice(1).map((c) => c.id));
    for (const s of theirs) expect(remaining.has(owners.get(s) ?? '')).toBe(true);
  });
});
