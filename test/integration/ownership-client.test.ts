// Stream ownership client against the real Redis, in one process: the Go-compatible producer
// contract, fencing of a replaced owner, doneStream, and a hand-off between two clients.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { FencingError, OwnershipError } from '../../src/errors.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import {
  StreamOwnershipClient,
  addStream,
  lbsGroup,
  lbsKey,
  lockKey,
  metaKey,
  type OwnershipNotification,
  type StreamLease,
} from '../../src/ownership/index.js';
import {
  REDIS_URL,
  cleanupService,
  ownershipConfig,
  uniqService,
} from '../helpers/ownership-kit.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(env: Record<string, string> = {}) {
  const service = uniqService();
  const config = ownershipConfig(service, env);
  const redis = new Redis(REDIS_URL);
  const clients: StreamOwnershipClient[] = [];
  const make = (id: string, opts: { keyspaceEvents?: boolean; runWorker?: boolean } = {}) => {
    const c = new StreamOwnershipClient(config, { id, lbsBlockMs: 200, ...opts });
    clients.push(c);
    return c;
  };
  cleanups.push(async () => {
    for (const c of clients) await c.close();
    await cleanupService(service, config);
    redis.disconnect();
  });
  return { service, config, redis, make };
}

function next<T extends OwnershipNotification['type']>(
  client: StreamOwnershipClient,
  type: T,
  stream?: string,
): Promise<Extract<OwnershipNotification, { type: T }>> {
  return new Promise((resolve) => {
    const on = (n: OwnershipNotification) => {
      if (stream !== undefined && n.stream !== stream) return;
      client.off(type, on as never);
      resolve(n as Extract<OwnershipNotification, { type: T }>);
    };
    client.on(type, on as never);
  });
}

describe('stream ownership client', () => {
  it('takes streams registered by a raw Go-style XADD, locks them and holds the LBS entry', async () => {
    const { service, redis, make } = setup();
    const client = make('go-compat-a');
    const notifications = await client.init();
    const info = { tenant: 't1', shard: 3 };
    const lbsId = await redis.xadd(
      lbsKey(service),
      '*',
      'lbs-input',
      JSON.stringify({ DataStreamName: `${service}-orders`, Info: info }),
    );
    const first = await notifications.next();
    expect(first.value).toMatchObject({
      type: 'StreamAdded',
      stream: `${service}-orders`,
      lbsId,
      info,
    });
    expect(await redis.get(lockKey(service, `${service}-orders`))).toMatch(/^1\|go-compat-a$/);
    const pending = (await redis.xpending(
      lbsKey(service),
      lbsGroup(service),
      '-',
      '+',
      10,
    )) as Array<[string, string, number, number]>;
    expect(pending.map(([id, consumer]) => [id, consumer])).toEqual([[lbsId, 'go-compat-a']]);
    // addStream writes exactly the same contract.
    await addStream(redis, service, `${service}-second`, { a: 1 });
    expect((await notifications.next()).value).toMatchObject({
      type: 'StreamAdded',
      stream: `${service}-second`,
      info: { a: 1 },
    });
  });

  it('fences a replaced owner: its XACK, enqueue check and doneStream are refused', async () => {
    const { service, redis, make } = setup();
    const metrics = new DualstreamMetrics();
    // A takes no claim jobs, as if it were stalled: B's worker must be the one that claims.
    const a = make('fence-a', { runWorker: false });
    const b = new StreamOwnershipClient(ownershipConfig(service), {
      id: 'fence-b',
      metrics,
      lbsBlockMs: 200,
    });
    cleanups.push(() => b.close());
    await a.init();
    const stream = `${service}-s`;
    const added = next(a, 'StreamAdded');
    await addStream(redis, service, stream);
    const stale: StreamLease = (await added).lease;
    await b.init();

    // Simulate a stall: A's lock expires without A noticing, B takes the stream over.
    const disowned = next(a, 'StreamDisowned', stream);
    const claimed = next(b, 'StreamClaimed', stream);
    await redis.pexpire(lockKey(service, stream), 1);
    const claim = await claimed;
    expect(claim.reason).toBe('expired');
    expect(claim.lease.fence).toBe(stale.fence + 1);
    expect((await disowned).stream).toBe(stream);
    expect(stale.signal.aborted).toBe(true);

    await redis.xadd(stream, '*', 'event', '{}');
    await expect(stale.ack(`${service}-ingest`, ['0-1'])).rejects.toBeInstanceOf(FencingError);
    await expect(stale.assertOwner()).rejects.toBeInstanceOf(FencingError);
    await expect(stale.takeOver(`${service}-ingest`)).rejects.toBeInstanceOf(FencingError);
    await expect(a.doneStream(stream)).rejects.toBeInstanceOf(OwnershipError);
    // The new owner is unaffected.
    await claim.lease.assertOwner();
    const [value] = (await metrics.ownershipClaims.get()).values.filter(
      (v) => v.labels.outcome === 'claimed',
    );
    expect(value?.value).toBe(1);
    expect(
      (await metrics.failoverSeconds.get()).values.find((v) => v.metricName?.endsWith('_count'))
        ?.value,
    ).toBe(1);
  });

  it('doneStream acks and deletes the LBS entry; later claims of it are no-ops that say why', async () => {
    const { service, redis, make } = setup();
    const a = make('done-a');
    await a.init();
    const stream = `${service}-finished`;
    const added = next(a, 'StreamAdded');
    const lbsId = await addStream(redis, service, stream);
    await added;
    await a.doneStream(stream);
    expect(a.ownedStreams).toEqual([]);
    expect(await redis.xlen(lbsKey(service))).toBe(0);
    expect(await redis.exists(lockKey(service, stream))).toBe(0);
    await expect(a.claim({ stream, lbsId })).rejects.toThrow(/finished by doneStream/);
  });

  it('the sweep never takes a stream whose lock is alive, and claims one whose lock is gone', async () => {
    // Sweeps run by hand here; the scheduled one is pushed out of the way.
    const { service, redis, make } = setup({ SWEEP_INTERVAL_MS: '600000' });
    const a = make('sweep-a', { runWorker: false, keyspaceEvents: false });
    const b = make('sweep-b', { keyspaceEvents: false });
    await a.init();
    const stream = `${service}-idle`;
    const added = next(a, 'StreamAdded');
    await addStream(redis, service, stream);
    await added;
    await b.init();
    // Pending far longer than the TTL, but the lock is renewed: not an orphan.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await b.sweep()).toEqual({ scanned: 1, enqueued: 0 });
    // The lock vanishes without any notification (none is subscribed): the sweep finds it.
    const claimed = next(b, 'StreamClaimed', stream);
    const disowned = next(a, 'StreamDisowned', stream);
    await redis.del(lockKey(service, stream));
    expect(await b.sweep()).toEqual({ scanned: 1, enqueued: 1 });
    expect((await claimed).reason).toBe('sweep');
    expect((await disowned).reason).toMatch(/refused/);
  });

  it('the sweep claims again an orphan whose claim of the same generation already completed', async () => {
    // What a Redis failover that lost an acquisition leaves: the lock gone, the generation counter
    // back where it was before, and the claim job of that generation completed (kept for
    // de-duplication). Without a new claim the stream would stay unowned.
    const { service, redis, make } = setup({ SWEEP_INTERVAL_MS: '600000' });
    const a = make('lost-a', { runWorker: false, keyspaceEvents: false });
    const b = make('lost-b', { keyspaceEvents: false });
    await a.init();
    const stream = `${service}-lost`;
    const added = next(a, 'StreamAdded');
    await addStream(redis, service, stream);
    await added;
    await b.init();
    await new Promise((r) => setTimeout(r, 1200));
    const first = next(b, 'StreamClaimed', stream);
    await redis.del(lockKey(service, stream));
    expect(await b.sweep()).toEqual({ scanned: 1, enqueued: 1 });
    expect((await first).lease.fence).toBe(2);
    // The failover: generation 2 and its lock are lost, the counter is back at 1.
    const disowned = next(b, 'StreamDisowned', stream);
    await redis.del(lockKey(service, stream));
    await redis.hset(metaKey(service, stream), 'fence', '1');
    await disowned;
    await new Promise((r) => setTimeout(r, 1200));
    const again = next(b, 'StreamClaimed', stream);
    expect(await b.sweep()).toEqual({ scanned: 1, enqueued: 1 });
    const n = await again;
    expect(n.reason).toBe('sweep');
    expect(n.lease.fence).toBe(2);
    expect(await redis.get(lockKey(service, stream))).toBe('2|lost-b');
  });

  it('claim() of a stream owned elsewhere is refused with the owner named', async () => {
    const { service, redis, make } = setup();
    const a = make('owner-a');
    const b = make('other-b');
    await a.init();
    const added = next(a, 'StreamAdded');
    await addStream(redis, service, `${service}-x`);
    await added;
    await b.init();
    await expect(b.claim({ stream: `${service}-x` })).rejects.toThrow(/already owned by owner-a/);
  });

  it('done() hands every stream to the remaining client without waiting for the TTL', async () => {
    // A 10 s TTL: anything that waited for expiry would take far longer than the hand-off.
    const { service, redis, make } = setup({ LOCK_TTL_MS: '10000', SWEEP_INTERVAL_MS: '60000' });
    const a = make('handoff-a');
    await a.init();
    const names = Array.from({ length: 20 }, (_, i) => `${service}-h${i}`);
    let added = 0;
    const allAdded = new Promise<void>((resolve) =>
      a.on('StreamAdded', () => {
        added += 1;
        if (added === names.length) resolve();
      }),
    );
    for (const n of names) await addStream(redis, service, n);
    await allAdded;
    const b = make('handoff-b');
    await b.init();
    const claims: Array<{ stream: string; reason: string; failoverMs?: number }> = [];
    const allClaimed = new Promise<void>((resolve) =>
      b.on('StreamClaimed', (n) => {
        claims.push(n);
        if (claims.length === names.length) resolve();
      }),
    );
    const started = Date.now();
    await a.done();
    await allClaimed;
    const took = Date.now() - started;
    console.log(`hand-off of ${names.length} streams: ${took} ms (TTL 10000 ms)`);
    expect(new Set(claims.map((c) => c.stream))).toEqual(new Set(names));
    expect(claims.every((c) => c.reason === 'handoff')).toBe(true);
    // Measured by Redis from the release to the claim: far below the TTL.
    expect(Math.max(...claims.map((c) => c.failoverMs ?? Infinity))).toBeLessThan(10_000);
    const owners = await Promise.all(names.map((n) => redis.get(lockKey(service, n))));
    expect(owners.every((o) => o?.endsWith('|handoff-b'))).toBe(true);
  });
});
