// The real-time edge over WebSocket and through the typed client, against the real Redis, Kafka,
// publish worker and HTTP server: same messages, resume and reset as SSE; the client drops
// repeats, fills a seq gap from the recent-events API and reconnects with its token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import {
  createSubscribeToken,
  subscribe,
  SseParser,
  type ClientReset,
  type SubscriberNotification,
} from '../../src/realtime/index.js';
import { AUTH, EDGE_SECRET, startEdgeStack, type EdgeStack } from '../helpers/edge-kit.js';
import { REDIS_URL, waitFor } from '../helpers/pipeline-kit.js';

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

interface WsFrame {
  type: string;
  sub?: string;
  token?: string;
  data?: SubscriberNotification & Record<string, unknown>;
  status?: number;
  error?: string;
}

async function openWs(url: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers });
  const frames: WsFrame[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as WsFrame));
  const status = await new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
  return {
    ws,
    status,
    frames,
    seqs: (sub?: string) =>
      frames
        .filter((f) => f.type === 'message' && (sub === undefined || f.sub === sub))
        .map((f) => f.data!.seq),
    send: (m: unknown) => ws.send(JSON.stringify(m)),
    until: (pred: (f: WsFrame[]) => boolean, what: string) =>
      waitFor(() => pred(frames), 20_000, what),
  };
}

describe('real-time edge: WebSocket and the typed client', () => {
  let stack: EdgeStack;
  let redis: Redis;

  beforeAll(async () => {
    stack = await startEdgeStack({ HISTORY_MAX_EVENTS: '20' });
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await redis.quit();
    await stack.close();
  });

  const retained = (source: string, seq: number) =>
    waitFor(
      async () => {
        const [t, id] = source.split(':') as [string, string];
        const top = await redis.zrevrange(
          stack.edge.history!.keys.source(t, id),
          0,
          0,
          'WITHSCORES',
        );
        return top[1] === String(seq);
      },
      20_000,
      `${source} seq ${seq} retained`,
    );

  it('WebSocket: subscribe, live messages, resume with the token, reset past retention, unsubscribe', async () => {
    const a = await openWs(`${stack.url}/v1/ws`, { authorization: AUTH });
    expect(a.status).toBe(101);
    a.send({ type: 'subscribe', id: 's1', channels: ['ws:a'] });
    await a.until((f) => f.some((x) => x.type === 'subscribed'), 'subscribed');
    await stack.publish('ws:a', 4, 0);
    await a.until((f) => f.filter((x) => x.type === 'message').length === 4, '4 messages');
    expect(a.seqs('s1')).toEqual([1, 2, 3, 4]);
    expect(Object.keys(a.frames.find((f) => f.type === 'message')!.data!).sort()).toEqual(
      ['id', 'offset', 'partition', 'seq', 'source_id', 'source_type', 'topic', 'type'].sort(),
    );
    const token = a.frames.filter((f) => f.type === 'message').at(-1)!.token!;
    a.send({ type: 'unsubscribe', id: 's1' });
    await waitFor(() => stack.edge.hub.size === 0, 10_000, 'unsubscribed');
    await stack.publish('ws:a', 3, 4); // 5..7 missed
    await retained('ws:a', 7);
    a.send({ type: 'subscribe', id: 's2', channels: ['ws:a'], token });
    await a.until(
      (f) => f.filter((x) => x.sub === 's2' && x.type === 'message').length === 3,
      'missed 3',
    );
    await stack.publish('ws:a', 1, 7);
    await a.until(
      (f) => f.filter((x) => x.sub === 's2' && x.type === 'message').length === 4,
      'then live',
    );
    expect(a.seqs('s2')).toEqual([5, 6, 7, 8]);
    a.ws.close();

    // Past the retention (20): reset first, then what is retained.
    await stack.publish('ws:a', 30, 8); // 9..38
    await retained('ws:a', 38);
    const b = await openWs(`${stack.url}/v1/ws`, { authorization: AUTH });
    b.send({ type: 'subscribe', channels: ['ws:a'], token });
    await b.until((f) => f.filter((x) => x.type === 'message').length === 20, '20 retained');
    const reset = b.frames.find((f) => f.type === 'reset')!;
    expect(reset.data).toMatchObject({
      channel: 'ws:a',
      reason: 'expired',
      after: 4,
      continues_from: 19,
    });
    expect(b.seqs()).toEqual(range(19, 38));
    b.ws.close();
  });

  it('WebSocket: 401 at the upgrade without credentials, 403 for a channel outside the token, 400 for a bad message', async () => {
    expect((await openWs(`${stack.url}/v1/ws`)).status).toBe(401);
    const token = createSubscribeToken({ secret: EDGE_SECRET, channels: ['wsauth:*'] });
    const c = await openWs(`${stack.url}/v1/ws?token=${token}`);
    expect(c.status).toBe(101);
    c.send({ type: 'subscribe', channels: ['other:a'] });
    c.send({ type: 'subscribe', channels: ['bad'] });
    c.send({ type: 'subscribe', channels: ['wsauth:x'] });
    await c.until((f) => f.some((x) => x.type === 'subscribed'), 'subscribed');
    const errors = c.frames.filter((f) => f.type === 'error');
    expect(errors.map((e) => e.status)).toEqual([403, 400]);
    c.ws.close();
  });

  it('typed client: live, drops nothing and repeats nothing, fills a gap from the recent-events API', async () => {
    // A fetch whose SSE stream loses the messages of seq 3..5 on the way (as a broken proxy
    // would); the gap-fill requests go through untouched.
    const lose = new Set([3, 4, 5]);
    const lossyFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).includes('/v1/subscribe') || !res.body) return res;
      const parser = new SseParser();
      const enc = new TextEncoder();
      const body = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(
        new TransformStream<string, Uint8Array>({
          transform(chunk, ctl) {
            for (const ev of parser.push(chunk)) {
              if (ev.event === 'message' && lose.has((JSON.parse(ev.data) as { seq: number }).seq))
                continue;
              const id = ev.lastEventId ? `id: ${ev.lastEventId}\n` : '';
              ctl.enqueue(enc.encode(`${id}event: ${ev.event}\ndata: ${ev.data}\n\n`));
            }
          },
        }),
      );
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const got: Array<{ seq: number; filled: boolean }> = [];
    const resets: ClientReset[] = [];
    const sub = subscribe({
      url: stack.url,
      channels: ['typed:a'],
      headers: { authorization: AUTH },
      fetch: lossyFetch,
      onMessage: (n, meta) => got.push({ seq: n.seq!, filled: meta.filled }),
      onReset: (r) => resets.push(r),
    });
    try {
      await waitFor(() => stack.edge.hub.size === 1, 10_000, 'connected');
      await waitFor(() => sub.token !== undefined, 10_000, 'subscribed');
      await stack.publish('typed:a', 8, 0);
      await waitFor(() => got.length === 8, 20_000, '8 messages');
      expect(got.map((g) => g.seq)).toEqual(range(1, 8));
      expect(got.filter((g) => g.filled).map((g) => g.seq)).toEqual([3, 4, 5]);
      expect(resets).toEqual([]);
      expect(sub.stats).toMatchObject({ delivered: 8, filled: 3, resets: 0 });

      // Disconnected by the server: it reconnects with its token and gets the missed ones.
      lose.clear();
      stack.edge.hub.disconnectAll();
      await stack.publish('typed:a', 4, 8);
      await waitFor(() => got.length === 12, 20_000, '12 messages');
      expect(got.map((g) => g.seq)).toEqual(range(1, 12));
      expect(sub.stats.reconnects).toBeGreaterThanOrEqual(1);
    } finally {
      sub.close();
      await sub.done;
    }
  });

  it('typed client: surfaces a reset when the events are no longer retained, and stops on 403', async () => {
    const first: number[] = [];
    const s1 = subscribe({
      url: stack.url,
      channels: ['gone:a'],
      headers: { authorization: AUTH },
      onMessage: (n) => first.push(n.seq!),
    });
    await waitFor(() => s1.token !== undefined, 10_000, 'subscribed');
    await stack.publish('gone:a', 2, 0);
    await waitFor(() => first.length === 2, 20_000, '2 messages');
    const token = s1.token!;
    s1.close();
    await s1.done;
    await stack.publish('gone:a', 30, 2); // 3..32, 13..32 retained
    await retained('gone:a', 32);
    const got: number[] = [];
    const resets: ClientReset[] = [];
    const s2 = subscribe({
      url: stack.url,
      channels: ['gone:a'],
      headers: { authorization: AUTH },
      resumeToken: token,
      onMessage: (n) => got.push(n.seq!),
      onReset: (r) => resets.push(r),
    });
    try {
      await waitFor(() => got.length === 20, 20_000, '20 retained');
      expect(got).toEqual(range(13, 32));
      expect(resets).toHaveLength(1);
      expect(resets[0]).toMatchObject({
        source: 'gone:a',
        reason: 'gap',
        after: 2,
        continues_from: 13,
      });
      expect(resets[0]!.kafka).toMatchObject({ topic: stack.config.kafka.topic });
    } finally {
      s2.close();
      await s2.done;
    }
    const errors: Array<{ err: Error; retry: boolean }> = [];
    const token403 = createSubscribeToken({ secret: EDGE_SECRET, channels: ['x:y'] });
    const s3 = subscribe({
      url: stack.url,
      channels: ['gone:a'],
      token: token403,
      onMessage: () => undefined,
      onError: (err, retry) => errors.push({ err, retry }),
    });
    await s3.done;
    expect(errors[0]).toMatchObject({ retry: false });
    expect(errors[0]!.err.message).toContain('403');
  });
});
