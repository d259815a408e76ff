// The real-time edge over SSE against the real Redis, Kafka, publish worker and HTTP server:
// retained history written with the notification, live delivery, resume with the token (exactly
// the missed ones, then live), reset past retention, aggregate channels, auth, the recent-events
// API, and a slow client dropped without holding up the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createSubscribeToken, decodeResumeToken } from '../../src/realtime/index.js';
import { subscribeQuerySchema } from '../../src/realtime/routes.js';
import { EdgeHistory, repairChannelFor } from '../../src/realtime/history.js';
import { AUTH, EDGE_SECRET, openSse, startEdgeStack, type EdgeStack } from '../helpers/edge-kit.js';
import { REDIS_URL, collectPubSub, waitFor } from '../helpers/pipeline-kit.js';

const seqs = (ms: Array<{ seq: number }>) => ms.map((m) => m.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('real-time edge: SSE, resume, recent events', () => {
  let stack: EdgeStack;
  let redis: Redis;

  beforeAll(async () => {
    stack = await startEdgeStack({
      HISTORY_MAX_EVENTS: '20',
      SUBSCRIBE_CLIENT_BUFFER_BYTES: '262144',
    });
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await redis.quit();
    await stack.close();
  });

  const sub = (q: string) => `${stack.url}/v1/subscribe?${q}`;

  /**
   * Write one event straight through the retain-and-publish script, as a worker's notifier does:
   * on the source's channel, or (a write-back after a Pub/Sub outage) on its repair channel.
   */
  const retain = (
    history: EdgeHistory,
    writer: Redis,
    source: { sourceType: string; sourceId: string },
    seq: number,
    mode: 'publish' | 'repair' = 'publish',
  ) =>
    history.append(
      writer,
      mode === 'publish'
        ? `${stack.config.events.channelPrefix}:${source.sourceType}:${source.sourceId}`
        : repairChannelFor(source, stack.config.events.channelPrefix),
      {
        id: `${source.sourceType}-${source.sourceId}-${seq}-${stack.config.queue.name}`,
        type: 'push',
        ...source,
        occurredAt: new Date().toISOString(),
        payload: {},
      },
      { topic: stack.config.kafka.topic, partition: 0, offset: String(seq), seq },
    );

  it('retains each notified event with seq, topic, partition and offset, in the same step as the PUBLISH', async () => {
    const pubsub = await collectPubSub(`${stack.config.events.channelPrefix}:hist:*`);
    try {
      await stack.publish('hist:a', 5, 0);
      await waitFor(() => pubsub.messages.length === 5, 20_000, '5 notifications');
      const answer = (await (
        await fetch(`${stack.url}/v1/sources/hist/a/events?after=0&limit=10`, {
          headers: { authorization: AUTH },
        })
      ).json()) as {
        events: Array<{ seq: number; topic: string; offset: string; payload: { i: number } }>;
        complete: boolean;
      };
      expect(answer.complete).toBe(true);
      expect(seqs(answer.events)).toEqual([1, 2, 3, 4, 5]);
      expect(answer.events.map((e) => e.payload.i)).toEqual([0, 1, 2, 3, 4]);
      expect(answer.events[0]!.topic).toBe(stack.config.kafka.topic);
      const notes = pubsub.messages.map(
        (m) => JSON.parse(m.message) as { seq: number; pos: string; offset: string },
      );
      expect(notes.map((n) => n.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(notes.every((n) => /^\d+-\d+@[0-9a-f]+$/.test(n.pos))).toBe(true);
      expect(notes.map((n) => n.offset)).toEqual(answer.events.map((e) => e.offset));
    } finally {
      await pubsub.close();
    }
  });

  it('delivers live notifications in seq order, each with a resume token as its id', async () => {
    const s = await openSse(sub('channel=live:a'), { authorization: AUTH });
    try {
      expect(s.status).toBe(200);
      await s.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
      await stack.publish('live:a', 10, 0);
      await s.waitFor((e) => e.filter((x) => x.event === 'message').length === 10, '10 messages');
      expect(seqs(s.messages())).toEqual(range(1, 10));
      const m = JSON.parse(s.events.find((e) => e.event === 'message')!.data) as Record<
        string,
        unknown
      >;
      expect(Object.keys(m).sort()).toEqual(
        ['id', 'offset', 'partition', 'seq', 'source_id', 'source_type', 'topic', 'type'].sort(),
      );
      expect(decodeResumeToken(s.lastEventId())?.get('live:a')).toBe(10);
    } finally {
      s.close();
    }
  });

  it('resumes with Last-Event-ID: exactly the missed ones, in order, then live ones', async () => {
    const first = await openSse(sub('channel=res:a'), { authorization: AUTH });
    await first.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
    await stack.publish('res:a', 3, 0);
    await first.waitFor((e) => e.filter((x) => x.event === 'message').length === 3, '3 messages');
    const token = first.lastEventId();
    first.close();
    await stack.publish('res:a', 7, 3); // missed: seq 4..10
    await waitFor(
      async () => (await redis.zcard(`${stack.edge.history!.keys.source('res', 'a')}`)) === 10,
      20_000,
      'retained',
    );
    const second = await openSse(sub('channel=res:a'), {
      authorization: AUTH,
      'last-event-id': token,
    });
    try {
      await second.waitFor((e) => e.filter((x) => x.event === 'message').length === 7, '7 missed');
      await stack.publish('res:a', 2, 10);
      await second.waitFor((e) => e.filter((x) => x.event === 'message').length === 9, 'then live');
      expect(seqs(second.messages())).toEqual(range(4, 12));
      expect(second.events.some((e) => e.event === 'reset')).toBe(false);
    } finally {
      second.close();
    }
    // The query parameter works the same way.
    const third = await openSse(sub(`channel=res:a&lastEventId=${encodeURIComponent(token)}`), {
      authorization: AUTH,
    });
    try {
      await third.waitFor(
        (e) => e.filter((x) => x.event === 'message').length === 9,
        'replay by query',
      );
      expect(seqs(third.messages())).toEqual(range(4, 12));
    } finally {
      third.close();
    }
  });

  it('answers a token older than the retention with an explicit reset, then what is retained', async () => {
    const first = await openSse(sub('channel=old:a'), { authorization: AUTH });
    await first.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
    await stack.publish('old:a', 2, 0);
    await first.waitFor((e) => e.filter((x) => x.event === 'message').length === 2, '2 messages');
    const token = first.lastEventId();
    first.close();
    await stack.publish('old:a', 30, 2); // seq 3..32; only the last 20 (13..32) are retained
    await waitFor(
      async () => {
        const top = await redis.zrevrange(
          stack.edge.history!.keys.source('old', 'a'),
          0,
          0,
          'WITHSCORES',
        );
        return top[1] === '32';
      },
      20_000,
      'seq 32 retained',
    );
    const second = await openSse(sub('channel=old:a'), {
      authorization: AUTH,
      'last-event-id': token,
    });
    try {
      await second.waitFor(
        (e) => e.filter((x) => x.event === 'message').length === 20,
        'retained ones',
      );
      const reset = second.events.find((e) => e.event === 'reset');
      expect(JSON.parse(reset!.data)).toMatchObject({
        channel: 'old:a',
        reason: 'expired',
        after: 2,
        continues_from: 13,
      });
      expect(second.events.findIndex((e) => e.event === 'reset')).toBeLessThan(
        second.events.findIndex((e) => e.event === 'message'),
      );
      expect(seqs(second.messages())).toEqual(range(13, 32));
    } finally {
      second.close();
    }
    // An unreadable token: reset 'unknown', then everything retained.
    const third = await openSse(sub('channel=old:a'), {
      authorization: AUTH,
      'last-event-id': 'garbage',
    });
    try {
      await third.waitFor(
        (e) => e.filter((x) => x.event === 'message').length === 20,
        'retained ones',
      );
      expect(JSON.parse(third.events.find((e) => e.event === 'reset')!.data)).toMatchObject({
        reason: 'unknown',
      });
    } finally {
      third.close();
    }
  });

  it('follows every source of a type on <type>:* and resumes it', async () => {
    const first = await openSse(sub('channel=agg:*'), { authorization: AUTH });
    await first.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
    await stack.publish('agg:a', 2, 0);
    await stack.publish('agg:b', 2, 0);
    await first.waitFor((e) => e.filter((x) => x.event === 'message').length === 4, '4 messages');
    const token = first.lastEventId();
    first.close();
    await stack.publish('agg:a', 3, 2);
    await stack.publish('agg:c', 2, 0);
    await waitFor(
      async () => (await redis.xlen(stack.edge.history!.keys.type('agg'))) === 9,
      20_000,
      '9 in the type stream',
    );
    const second = await openSse(sub('channel=agg:*'), {
      authorization: AUTH,
      'last-event-id': token,
    });
    try {
      await second.waitFor((e) => e.filter((x) => x.event === 'message').length === 5, 'missed 5');
      await stack.publish('agg:b', 1, 2);
      await second.waitFor((e) => e.filter((x) => x.event === 'message').length === 6, 'then live');
      const got = second.messages().map((m) => `${m.source_id}${m.seq}`);
      expect(got.filter((g) => g.startsWith('a'))).toEqual(['a3', 'a4', 'a5']);
      expect(got.filter((g) => g.startsWith('c'))).toEqual(['c1', 'c2']);
      expect(got.at(-1)).toBe('b3');
      expect(second.events.some((e) => e.event === 'reset')).toBe(false);
    } finally {
      second.close();
    }
  });

  it('<type>:* never jumps silently: a hole in the type stream is filled from the source history or announced', async () => {
    // What a Pub/Sub outage leaves behind: seqs 3 and 4 were written back to the source's
    // history only (repair), seq 5 never was; 6 was published normally.
    const h = stack.edge.history!;
    const writer = new Redis(REDIS_URL);
    h.define(writer);
    const put = (seq: number, mode: 'publish' | 'repair') =>
      retain(h, writer, { sourceType: 'hole', sourceId: 'a' }, seq, mode);
    try {
      const first = await openSse(sub('channel=hole:*'), { authorization: AUTH });
      await first.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
      await put(1, 'publish');
      await put(2, 'publish');
      await first.waitFor((e) => e.filter((x) => x.event === 'message').length === 2, '2 messages');
      const token = first.lastEventId();
      first.close();
      await put(3, 'repair');
      await put(4, 'repair');
      await put(6, 'publish');
      const second = await openSse(sub('channel=hole:*'), {
        authorization: AUTH,
        'last-event-id': token,
      });
      try {
        await second.waitFor(
          (e) => e.filter((x) => x.event === 'message').length === 3,
          '3, 4 and 6',
        );
        expect(seqs(second.messages())).toEqual([3, 4, 6]);
        const resets = second.events
          .filter((e) => e.event === 'reset')
          .map((e) => JSON.parse(e.data) as unknown);
        expect(resets).toEqual([
          { channel: 'hole:*', reason: 'gap', source: 'hole:a', after: 4, continues_from: 6 },
        ]);
      } finally {
        second.close();
      }
      // The type's history lost (a Pub/Sub Redis restarted empty): a resume is told so.
      const last = second.lastEventId();
      await writer.del(h.keys.type('hole'), h.keys.typeMeta('hole'));
      await put(7, 'publish');
      const third = await openSse(sub('channel=hole:*'), {
        authorization: AUTH,
        'last-event-id': last,
      });
      try {
        await third.waitFor((e) => e.some((x) => x.event === 'message'), 'seq 7');
        expect(JSON.parse(third.events.find((e) => e.event === 'reset')!.data)).toMatchObject({
          channel: 'hole:*',
          reason: 'expired',
        });
        expect(seqs(third.messages())).toEqual([7]);
      } finally {
        third.close();
      }
    } finally {
      await writer.quit();
    }
  });

  it('a source whose first seqs are written late (a Pub/Sub outage) gets them in order within the grace, and a reset after it, never a silent skip', async () => {
    // What chaos found: seqs 1 and 2 of a new source failed to notify and wait in one worker's
    // repair backlog while another worker publishes seq 3; 1 and 2 are written afterwards.
    const h = stack.edge.history!;
    const writer = new Redis(REDIS_URL);
    h.define(writer);
    const put = (id: string, seq: number, mode: 'publish' | 'repair') =>
      retain(h, writer, { sourceType: 'late', sourceId: id }, seq, mode);
    type Sse = Awaited<ReturnType<typeof openSse>>;
    const resets = (s: Sse) =>
      s.events.filter((e) => e.event === 'reset').map((e) => JSON.parse(e.data) as unknown);
    const of = (s: Sse, id: string) => seqs(s.messages().filter((m) => m.source_id === id));
    const hasSeq = (id: string, seq: number) => (e: Sse['events']) =>
      e.some((x) => {
        if (x.event !== 'message') return false;
        const m = JSON.parse(x.data) as { source_id: string; seq: number };
        return m.source_id === id && m.seq === seq;
      });
    const agg = await openSse(sub('channel=late:*'), { authorization: AUTH });
    const exactA = await openSse(sub('channel=late:a'), { authorization: AUTH });
    const exactB = await openSse(sub('channel=late:b'), { authorization: AUTH });
    let between: Sse | undefined;
    try {
      for (const s of [agg, exactA, exactB]) {
        await s.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
      }
      // Within the grace: the late writes are filled in before seq 3.
      await put('a', 3, 'publish');
      await put('a', 1, 'repair');
      await put('a', 2, 'repair');
      for (const s of [agg, exactA]) await s.waitFor(hasSeq('a', 3), 'a: seq 3');
      expect(of(agg, 'a')).toEqual([1, 2, 3]);
      expect(of(exactA, 'a')).toEqual([1, 2, 3]);
      expect(resets(agg)).toEqual([]);
      expect(resets(exactA)).toEqual([]);

      // After the grace: 1 and 2 are announced before seq 3, not dropped without a word after it.
      await put('b', 3, 'publish');
      for (const s of [agg, exactB]) await s.waitFor(hasSeq('b', 3), 'b: seq 3');
      // A subscriber that starts after seq 3 and before the late writes gets them, in order.
      between = await openSse(sub('channel=late:*'), { authorization: AUTH });
      await between.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
      await put('b', 1, 'repair');
      await put('b', 2, 'repair');
      await put('b', 4, 'publish');
      for (const s of [agg, exactB, between]) await s.waitFor(hasSeq('b', 4), 'b: seq 4');
      expect(of(agg, 'b')).toEqual([3, 4]);
      expect(resets(agg)).toEqual([
        { channel: 'late:*', reason: 'gap', source: 'late:b', after: 0, continues_from: 3 },
      ]);
      expect(of(exactB, 'b')).toEqual([3, 4]);
      expect(resets(exactB)).toEqual([
        { channel: 'late:b', reason: 'gap', source: 'late:b', after: 0, continues_from: 3 },
      ]);
      expect(of(between, 'b')).toEqual([1, 2, 3, 4]);
      expect(resets(between)).toEqual([]);
    } finally {
      for (const s of [agg, exactA, exactB, between]) s?.close();
      await writer.quit();
    }
  });

  it('a source idle longer than the retention goes on without a reset, and its expired events are reported missing', async () => {
    // The same keys, written with a retention of 300 ms: the events expire, the source meta stays.
    const short = new EdgeHistory(stack.edge.history!.keys.base, { maxAgeMs: 300 });
    const writer = new Redis(REDIS_URL);
    short.define(writer);
    const put = (seq: number) => retain(short, writer, { sourceType: 'idle', sourceId: 'a' }, seq);
    try {
      await put(1);
      await put(2);
      await waitFor(
        async () => (await redis.exists(short.keys.source('idle', 'a'))) === 0,
        10_000,
        'the retained events expired',
      );
      const agg = await openSse(sub('channel=idle:*'), { authorization: AUTH });
      const exact = await openSse(sub('channel=idle:a'), { authorization: AUTH });
      try {
        await agg.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
        await exact.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
        await put(3);
        for (const s of [agg, exact]) {
          await s.waitFor((e) => e.some((x) => x.event === 'message'), 'seq 3');
          expect(seqs(s.messages())).toEqual([3]);
          expect(s.events.some((e) => e.event === 'reset')).toBe(false);
        }
        const answer = (await (
          await fetch(`${stack.url}/v1/sources/idle/a/events?after=0&limit=10`, {
            headers: { authorization: AUTH },
          })
        ).json()) as { events: Array<{ seq: number }>; complete: boolean; missing: unknown[] };
        expect(seqs(answer.events)).toEqual([3]);
        expect(answer.complete).toBe(false);
        expect(answer.missing).toMatchObject([{ from_seq: 1, to_seq: 2 }]);
      } finally {
        agg.close();
        exact.close();
      }
    } finally {
      await writer.quit();
    }
  });

  it('answers 401 without credentials, 403 for a channel outside the token, and takes a valid ?token=', async () => {
    expect((await openSse(sub('channel=auth:a'))).status).toBe(401);
    expect((await openSse(sub('channel=auth:a&token=s1.bogus.sig'))).status).toBe(401);
    const expired = createSubscribeToken({
      secret: EDGE_SECRET,
      channels: ['auth:a'],
      now: Date.now() - 3_600_000,
    });
    expect((await openSse(sub(`channel=auth:a&token=${expired}`))).status).toBe(401);
    const token = createSubscribeToken({ secret: EDGE_SECRET, channels: ['auth:a', 'other:*'] });
    const forbidden = await fetch(sub(`channel=auth:b&token=${token}`));
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: string }).error).toContain('"auth:b"');
    expect((await fetch(sub(`channel=auth:*&token=${token}`))).status).toBe(403);
    const bad = await fetch(sub('channel=no-colon'), { headers: { authorization: AUTH } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
    const ok = await openSse(sub(`channel=auth:a&channel=other:x&token=${token}`));
    try {
      expect(ok.status).toBe(200);
      await ok.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
      await stack.publish('other:x', 1, 0);
      await ok.waitFor((e) => e.some((x) => x.event === 'message'), 'a message');
    } finally {
      ok.close();
    }
    const events = await fetch(`${stack.url}/v1/sources/auth/a/events?token=${token}`);
    expect(events.status).toBe(200);
    expect((await fetch(`${stack.url}/v1/sources/auth/b/events?token=${token}`)).status).toBe(403);
    expect((await fetch(`${stack.url}/v1/sources/auth/b/events`)).status).toBe(401);
  });

  it('recent events: pages with after/limit, says what is missing and where it is in Kafka, 400 on bad input', async () => {
    await stack.publish('recent:x/y', 25, 0);
    await waitFor(
      async () => {
        const top = await redis.zrevrange(
          stack.edge.history!.keys.source('recent', 'x/y'),
          0,
          0,
          'WITHSCORES',
        );
        return top[1] === '25';
      },
      20_000,
      'seq 25 retained',
    );
    const get = async (q: string) =>
      fetch(`${stack.url}/v1/sources/recent/${encodeURIComponent('x/y')}/events?${q}`, {
        headers: { authorization: AUTH },
      });
    const page = (await (await get('after=10&limit=5')).json()) as {
      events: Array<{ seq: number; sourceId: string; offset: string; partition: number }>;
      complete: boolean;
      more: boolean;
    };
    expect(seqs(page.events)).toEqual([11, 12, 13, 14, 15]);
    expect(page.events[0]!.sourceId).toBe('x/y');
    expect(page).toMatchObject({ complete: true, more: true });
    const old = (await (await get('after=0&limit=100')).json()) as {
      events: Array<{ seq: number; offset: string; partition: number }>;
      complete: boolean;
      missing: Array<{
        from_seq: number;
        to_seq: number;
        kafka: { topic: string; partition: number; before_offset: string };
      }>;
    };
    expect(old.complete).toBe(false);
    expect(seqs(old.events)).toEqual(range(6, 25));
    expect(old.missing).toEqual([
      {
        from_seq: 1,
        to_seq: 5,
        kafka: {
          topic: stack.config.kafka.topic,
          partition: old.events[0]!.partition,
          before_offset: old.events[0]!.offset,
        },
      },
    ]);
    const bad = await get('after=-1&limit=abc');
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { issues: Array<{ path: string }> };
    expect(body.issues.map((i) => i.path).sort()).toEqual(['after', 'limit']);
    expect((await get('limit=5000')).status).toBe(400);
  });

  it('drops a client that does not take its messages, with a reason, without holding up the others', async () => {
    const channel = 'slow:a';
    // A subscriber whose transport never drains: every message stays buffered, as with a client
    // that stopped reading (kernel buffers aside, which would take megabytes to fill here).
    let buffered = 0;
    let droppedReason = '';
    const [parsed] = subscribeQuerySchema.parse({ channel }).channel;
    stack.edge.hub.add([parsed!], 'sse', {
      message: () => (buffered += 1024), // as if each message were 1 KiB
      reset: () => undefined,
      opened: () => undefined,
      dropped: (reason) => (droppedReason = reason),
      buffered: () => buffered,
      heartbeat: () => undefined,
      end: () => undefined,
    });
    const fast = await openSse(sub(`channel=${channel}`), { authorization: AUTH });
    try {
      await fast.waitFor((e) => e.some((x) => x.event === 'subscribed'), 'subscribed');
      const total = 400; // 400 KiB for the slow one: past the 256 KiB buffer of this stack
      await stack.publish(channel, total, 0);
      await fast.waitFor(
        (e) => e.filter((x) => x.event === 'message').length === total,
        'all to the fast client',
        60_000,
      );
      expect(seqs(fast.messages())).toEqual(range(1, total));
      expect(droppedReason).toContain('slow client');
      expect((await stack.metrics.edgeDropped.get()).values[0]?.value).toBe(1);
      expect(fast.events.some((e) => e.event === 'dropped')).toBe(false);
    } finally {
      fast.close();
    }
  });
});
