// Subscribers of the real-time edge that live through the faults: the typed client (resume with
// its token, seq gap fill from the recent-events API) and a plain SSE reader that does what a
// browser's EventSource does (reconnect with Last-Event-ID, nothing else). At the end each must
// hold every event of its sources in seq order — recovered by resume or gap fill — or an explicit
// reset that covers what is missing, which is counted and explained.
import { subscribe, type Subscription } from '../../src/realtime/client.js';
import { SseParser } from '../../src/realtime/sse-parser.js';
import type { ResetInfo } from '../../src/realtime/session.js';
import type { EdgeKeys } from '../../src/realtime/keys.js';
import { Redis } from 'ioredis';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one subscriber received. */
class Received {
  /** Source → seqs in arrival order. */
  readonly seqs = new Map<string, number[]>();
  /** Arrival index of each seq, per source (resets share the counter). */
  readonly at = new Map<string, Map<number, number>>();
  readonly resets: ResetInfo[] = [];
  readonly resetAt: number[] = [];
  private n = 0;
  connections = 0;
  filled = 0;

  add(source: string, seq: number | undefined): void {
    if (seq === undefined) return;
    let list = this.seqs.get(source);
    if (!list) this.seqs.set(source, (list = []));
    list.push(seq);
    let at = this.at.get(source);
    if (!at) this.at.set(source, (at = new Map()));
    if (!at.has(seq)) at.set(seq, this.n);
    this.n++;
  }

  reset(r: ResetInfo): void {
    this.resets.push(r);
    this.resetAt.push(this.n++);
  }

  max(source: string): number {
    return this.seqs.get(source)?.at(-1) ?? 0;
  }
}

/** The verdict on one subscriber. */
export interface SubscriberVerdict {
  name: string;
  channels: string[];
  sources: number;
  delivered: number;
  /** Of those, filled from the recent-events API (typed client). */
  filled: number;
  connections: number;
  duplicates: number;
  inversions: number;
  /** Seqs neither delivered nor covered by a reset. */
  missingUnexplained: number;
  /** Seqs not delivered but announced by a reset. */
  missingByReset: number;
  resets: number;
  /** Resets by reason, with what they covered. */
  resetDetail: string;
  /** A few of the unexplained missing ones, `source#seq`. */
  missingSamples: string[];
  ok: boolean;
}

/** Runs the subscribers of a chaos run. */
export class EdgeSubscribers {
  private readonly typed: Array<{
    name: string;
    channels: string[];
    got: Received;
    sub: Subscription;
  }> = [];
  private readonly raw: Array<{ name: string; channels: string[]; got: Received }> = [];
  private stopped = false;
  private readonly loops: Array<Promise<void>> = [];
  private readonly controllers = new Set<AbortController>();

  constructor(
    private readonly baseUrl: string,
    private readonly authorization: string,
  ) {}

  /** Start a typed-client subscriber. */
  startTyped(name: string, channels: string[]): void {
    const got = new Received();
    const sub = subscribe({
      url: this.baseUrl,
      channels,
      headers: { authorization: this.authorization },
      backoff: { initialMs: 200, maxMs: 2000 },
      onMessage: (n, meta) => {
        got.add(`${n.source_type}:${n.source_id}`, n.seq);
        if (meta.filled) got.filled++;
      },
      onReset: (r) => got.reset(r),
    });
    this.typed.push({ name, channels, got, sub });
  }

  /** Start a plain SSE subscriber (EventSource behaviour: reconnect with Last-Event-ID). */
  startRaw(name: string, channels: string[]): void {
    const got = new Received();
    this.raw.push({ name, channels, got });
    const q = new URLSearchParams();
    for (const c of channels) q.append('channel', c);
    this.loops.push(
      (async () => {
        let last = '';
        while (!this.stopped) {
          const ac = new AbortController();
          this.controllers.add(ac);
          try {
            const headers: Record<string, string> = { authorization: this.authorization };
            if (last) headers['last-event-id'] = last;
            const res = await fetch(`${this.baseUrl}/v1/subscribe?${q}`, {
              headers,
              signal: ac.signal,
            });
            if (res.ok && res.body) {
              got.connections++;
              const parser = new SseParser(last);
              const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
              for (;;) {
                const { done, value } = await reader.read();
                if (done) break;
                for (const ev of parser.push(value)) {
                  if (ev.event === 'message') {
                    const n = JSON.parse(ev.data) as {
                      source_type: string;
                      source_id: string;
                      seq?: number;
                    };
                    got.add(`${n.source_type}:${n.source_id}`, n.seq);
                  } else if (ev.event === 'reset') {
                    got.reset(JSON.parse(ev.data) as ResetInfo);
                  }
                }
                last = parser.lastEventId;
              }
              last = parser.lastEventId;
            } else {
              await res.body?.cancel().catch(() => undefined);
            }
          } catch {
            // connection refused or cut: retry like a browser
          } finally {
            this.controllers.delete(ac);
          }
          if (!this.stopped) await sleep(1000);
        }
      })(),
    );
  }

  /** Wait (bounded) until every subscriber is subscribed. */
  async ready(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (
        this.typed.every((t) => t.sub.token !== undefined) &&
        this.raw.every((r) => r.got.connections > 0)
      ) {
        return true;
      }
      await sleep(100);
    }
    return false;
  }

  /** Wait (bounded) until every subscriber reached the last seq of each source it follows. */
  async caughtUp(maxSeq: Map<string, number>, timeoutMs: number): Promise<boolean> {
    const all = [...this.typed, ...this.raw];
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const behind = all.some(({ channels, got }) =>
        [...maxSeq].some(([source, max]) => follows(channels, source) && got.max(source) < max),
      );
      if (!behind) return true;
      await sleep(250);
    }
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.typed) t.sub.close();
    for (const c of this.controllers) c.abort();
    await Promise.all([...this.typed.map((t) => t.sub.done), ...this.loops]);
  }

  /** Judge every subscriber against the first-occurrence seqs of each source in Kafka. */
  verdicts(maxSeq: Map<string, number>): SubscriberVerdict[] {
    const out: SubscriberVerdict[] = [];
    for (const s of [
      ...this.typed.map((t) => ({ ...t, connections: t.sub.stats.reconnects + 1 })),
      ...this.raw.map((r) => ({ ...r, connections: r.got.connections })),
    ]) {
      out.push(judge(s.name, s.channels, s.got, maxSeq, s.connections));
    }
    return out;
  }
}

function follows(channels: string[], source: string): boolean {
  const type = source.slice(0, source.indexOf(':'));
  return channels.some((c) => c === source || c === `${type}:*`);
}

function judge(
  name: string,
  channels: string[],
  got: Received,
  maxSeq: Map<string, number>,
  connections: number,
): SubscriberVerdict {
  let delivered = 0;
  let duplicates = 0;
  let inversions = 0;
  let missingUnexplained = 0;
  let missingByReset = 0;
  let sources = 0;
  const samples: string[] = [];
  // A reset about the source covers the seqs between its `after` and `continues_from`. A reset
  // of a whole aggregate channel (no source: its history was lost or trimmed) covers a missing
  // seq when it arrived inside the hole: after the source's last seq below it and before its
  // first seq above it.
  const covered = (source: string, seq: number) =>
    got.resets.some((r, k) => {
      if (r.source !== undefined) {
        if (r.source !== source) return false;
        const after = typeof r.after === 'number' ? r.after : 0;
        const next = typeof r.continues_from === 'number' ? r.continues_from : Infinity;
        return seq > after && seq < next;
      }
      if (!follows([r.channel], source)) return false;
      const at = got.at.get(source) ?? new Map<number, number>();
      let before = -1;
      let afterIdx = Infinity;
      for (const [s2, i] of at) {
        if (s2 < seq) before = Math.max(before, i);
        else if (s2 > seq) afterIdx = Math.min(afterIdx, i);
      }
      const i = got.resetAt[k]!;
      return i > before && i < afterIdx;
    });
  for (const [source, max] of maxSeq) {
    if (!follows(channels, source)) continue;
    sources++;
    const list = got.seqs.get(source) ?? [];
    delivered += list.length;
    const seen = new Set<number>();
    let prev = 0;
    for (const s of list) {
      if (seen.has(s)) duplicates++;
      else if (s < prev) inversions++;
      seen.add(s);
      prev = Math.max(prev, s);
    }
    for (let s = 1; s <= max; s++) {
      if (seen.has(s)) continue;
      if (covered(source, s)) missingByReset++;
      else {
        missingUnexplained++;
        if (samples.length < 10)
          samples.push(`${source}#${s} (got ${list.join(',')}; last ${max})`);
      }
    }
  }
  const byReason = new Map<string, number>();
  for (const r of got.resets) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
  return {
    name,
    channels,
    sources,
    delivered,
    filled: got.filled,
    connections,
    duplicates,
    inversions,
    missingUnexplained,
    missingByReset,
    resets: got.resets.length,
    resetDetail:
      [...byReason].map(([k, v]) => `${v} ${k}`).join(', ') +
      (missingByReset > 0 ? ` (${missingByReset} events announced as missed)` : ''),
    missingSamples: samples,
    ok: duplicates === 0 && inversions === 0 && missingUnexplained === 0,
  };
}

/** The last seq of each source in the records read from Kafka (`source-seq` header). */
export function lastSeqs(
  records: Array<{ key: string | null; headers: Record<string, string> }>,
  sourceType: string,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records) {
    const seq = Number(r.headers['source-seq']);
    if (!r.key?.startsWith(`${sourceType}:`) || !Number.isInteger(seq) || seq < 1) continue;
    out.set(r.key, Math.max(out.get(r.key) ?? 0, seq));
  }
  return out;
}

/**
 * Log, for each sampled missing event (`type:id#seq ...`), whether the Pub/Sub Redis retained it
 * in its source history and in its type stream, and under which stream id.
 */
export async function explainMissing(
  pubsubUrl: string,
  keys: EdgeKeys,
  verdicts: SubscriberVerdict[],
  log: (line: string) => void,
): Promise<void> {
  const samples = new Set(verdicts.flatMap((v) => v.missingSamples.map((m) => m.split(' ')[0]!)));
  if (samples.size === 0) return;
  const redis = new Redis(pubsubUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const types = new Set([...samples].map((s) => s.slice(0, s.indexOf(':'))));
    const streamed = new Map<string, string>();
    for (const type of types) {
      const entries = (await redis.xrange(keys.type(type), '-', '+')) as Array<[string, string[]]>;
      for (const [id, fields] of entries) {
        const n = JSON.parse(fields[1] ?? '{}') as { source_id?: string; seq?: number };
        streamed.set(`${type}:${n.source_id}#${n.seq}`, `${id} p=${fields[3]}`);
      }
    }
    for (const sample of samples) {
      const [source, seqText] = sample.split('#') as [string, string];
      const colon = source.indexOf(':');
      const inHistory = await redis.zcount(
        keys.source(source.slice(0, colon), source.slice(colon + 1)),
        seqText,
        seqText,
      );
      log(
        `missing ${sample}: source history ${inHistory > 0 ? 'has it' : 'does not'}, type stream ${streamed.get(sample) ?? 'does not'}`,
      );
    }
  } catch (err) {
    log(`could not look up the missing events: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
