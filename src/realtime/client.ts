// The typed subscriber for Node 20 and browsers. It speaks SSE over fetch streams (Node 20 has
// no EventSource, and fetch can send headers, which EventSource cannot), so one code path serves
// both. No Node-only imports here: bundlers can take this module as it is.
import { SseParser } from './sse-parser.js';
import type { ResetInfo, SubscriberNotification } from './session.js';

/** A reset as the client surfaces it: the server's, or one found while filling a gap. */
export interface ClientReset extends ResetInfo {
  /** Where the events no longer retained are in Kafka, when the recent-events API said so. */
  kafka?: { topic: string; partition: number; before_offset: string };
}

/** Counters of a {@link Subscription}. */
export interface SubscriptionStats {
  /** Notifications handed to `onMessage`. */
  delivered: number;
  /** Of those, how many came from the recent-events API to fill a seq gap. */
  filled: number;
  /** Resets handed to `onReset`. */
  resets: number;
  /** Connections opened after the first one. */
  reconnects: number;
}

/** Options of {@link subscribe}. */
export interface SubscribeOptions {
  /** Base URL of the dualstream server, e.g. `https://events.example.com`. */
  url: string;
  /** `<sourceType>:<sourceId>` or `<sourceType>:*`, at least one. */
  channels: string[];
  /** A subscribe token from `createSubscribeToken()` (browsers), sent as `?token=`. */
  token?: string;
  /** Extra request headers (Node: `authorization` with the API's basic or bearer credentials). */
  headers?: Record<string, string>;
  /** Resume from this token (the `token` of the last message of an earlier subscription). */
  resumeToken?: string;
  /** Called for every notification, in seq order per source, none twice. */
  onMessage: (
    notification: SubscriberNotification,
    meta: { token: string; filled: boolean },
  ) => void;
  /** Called when events were missed for good (older than the retention, or never retained). */
  onReset?: (reset: ClientReset) => void;
  /** Errors: connection failures (retried) and refusals (401/403/400: not retried). */
  onError?: (err: Error, willRetry: boolean) => void;
  /** Fill a seq gap from `GET /v1/sources/…/events`. @defaultValue true */
  fillGaps?: boolean;
  /** Reconnect delays: doubled from `initialMs` up to `maxMs`, with jitter. @defaultValue 250 / 10 000 ms */
  backoff?: { initialMs?: number; maxMs?: number };
  /** @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
}

/** A running subscription. */
export interface Subscription {
  /** The resume token of the last message received (store it to resume after a page reload). */
  readonly token: string | undefined;
  readonly stats: SubscriptionStats;
  /** Stop: close the stream and stop reconnecting. */
  close(): void;
  /** Resolves when the subscription has stopped (closed, or refused by the server). */
  readonly done: Promise<void>;
}

/** A refusal by the server (401, 403, 400): reconnecting would not help. */
export class SubscribeRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SubscribeRefusedError';
  }
}

interface RecentAnswer {
  events: Array<SubscriberNotification & { sourceType: string; sourceId: string; seq: number }>;
  more: boolean;
  missing: Array<{ from_seq: number; to_seq: number; kafka?: ClientReset['kafka'] }>;
}

/**
 * Subscribe to channels of a dualstream server over SSE, with everything a reconnecting client
 * needs: reconnect with backoff, resume with the last token (`Last-Event-ID`), per-source seq
 * checks that drop repeats and fill gaps from the recent-events API, and explicit resets when
 * events are gone for good. Works in Node 20+ and browsers.
 */
export function subscribe(options: SubscribeOptions): Subscription {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const base = options.url.replace(/\/+$/, '');
  const initial = options.backoff?.initialMs ?? 250;
  const max = options.backoff?.maxMs ?? 10_000;
  const fill = options.fillGaps ?? true;
  const stats: SubscriptionStats = { delivered: 0, filled: 0, resets: 0, reconnects: 0 };
  const last = new Map<string, number>();
  let token = options.resumeToken;
  let stopped = false;
  let controller: AbortController | undefined;
  let wake: (() => void) | undefined;
  // Messages are handled one after another: a gap fill holds the ones behind it.
  let chain: Promise<void> = Promise.resolve();

  const query = new URLSearchParams();
  for (const c of options.channels) query.append('channel', c);
  if (options.token) query.set('token', options.token);

  const reset = (r: ClientReset) => {
    stats.resets++;
    options.onReset?.(r);
  };

  async function fillGap(source: string, from: number, before: number): Promise<void> {
    const colon = source.indexOf(':');
    const path = `${base}/v1/sources/${encodeURIComponent(source.slice(0, colon))}/${encodeURIComponent(source.slice(colon + 1))}/events`;
    let after = from;
    while (after < before - 1) {
      const q = new URLSearchParams({
        after: String(after),
        limit: String(Math.min(1000, before - 1 - after)),
      });
      if (options.token) q.set('token', options.token);
      const res = await doFetch(`${path}?${q}`, { headers: { ...options.headers } });
      if (!res.ok) throw new Error(`recent events answered ${res.status}`);
      const answer = (await res.json()) as RecentAnswer;
      for (const m of answer.missing) {
        if (m.from_seq >= before) break;
        reset({
          channel: source,
          reason: 'gap',
          source,
          after: m.from_seq - 1,
          continues_from: Math.min(m.to_seq + 1, before),
          ...(m.kafka ? { kafka: m.kafka } : {}),
        });
      }
      let progressed = false;
      for (const e of answer.events) {
        if (e.seq >= before) return;
        if (e.seq <= after) continue;
        const n: SubscriberNotification = {
          id: e.id,
          type: e.type,
          source_type: e.sourceType,
          source_id: e.sourceId,
          topic: e.topic,
          partition: e.partition,
          offset: e.offset,
          seq: e.seq,
        };
        last.set(source, e.seq);
        stats.delivered++;
        stats.filled++;
        options.onMessage(n, { token: token ?? '', filled: true });
        after = e.seq;
        progressed = true;
      }
      if (!progressed || !answer.more) {
        if (after < before - 1 && answer.missing.length === 0) {
          reset({ channel: source, reason: 'gap', source, after, continues_from: before });
        }
        return;
      }
    }
  }

  async function handle(n: SubscriberNotification, msgToken: string): Promise<void> {
    const source = `${n.source_type}:${n.source_id}`;
    if (n.seq !== undefined) {
      const prev = last.get(source);
      if (prev !== undefined && n.seq <= prev) return;
      if (prev !== undefined && n.seq > prev + 1) {
        if (fill) {
          try {
            await fillGap(source, prev, n.seq);
          } catch (err) {
            options.onError?.(err as Error, true);
            reset({
              channel: source,
              reason: 'gap',
              source,
              after: last.get(source) ?? prev,
              continues_from: n.seq,
            });
          }
        } else {
          reset({ channel: source, reason: 'gap', source, after: prev, continues_from: n.seq });
        }
      }
      last.set(source, n.seq);
    }
    stats.delivered++;
    options.onMessage(n, { token: msgToken, filled: false });
  }

  function onServerReset(r: ResetInfo): void {
    // A reset about one source is checked against the next message's seq: the gap is filled
    // from the recent-events API when it can be, and surfaced only when it cannot.
    const source = r.source ?? (r.channel.endsWith(':*') ? undefined : r.channel);
    if (source && typeof r.after === 'number' && r.reason !== 'unknown') {
      if (!last.has(source)) last.set(source, r.after);
      return;
    }
    reset(r);
  }

  async function connectOnce(): Promise<'retry' | 'stop'> {
    controller = new AbortController();
    const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
    if (token) headers['last-event-id'] = token;
    let res: Response;
    try {
      res = await doFetch(`${base}/v1/subscribe?${query}`, { headers, signal: controller.signal });
    } catch (err) {
      if (!stopped) options.onError?.(err as Error, true);
      return 'retry';
    }
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      const text = await res.text().catch(() => '');
      options.onError?.(
        new SubscribeRefusedError(res.status, `subscribe refused (${res.status}): ${text}`),
        false,
      );
      return 'stop';
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      options.onError?.(new Error(`subscribe answered ${res.status}`), true);
      return 'retry';
    }
    const parser = new SseParser(token ?? '');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const ev of parser.push(value)) {
          if (ev.event === 'message') {
            const n = JSON.parse(ev.data) as SubscriberNotification;
            const t = ev.lastEventId;
            chain = chain
              .then(() => handle(n, t))
              .then(() => {
                token = t;
              });
          } else if (ev.event === 'reset') {
            const r = JSON.parse(ev.data) as ResetInfo;
            const t = ev.lastEventId;
            chain = chain.then(() => {
              onServerReset(r);
              token = t;
            });
          } else if (ev.event === 'subscribed') {
            const t = ev.lastEventId;
            backoffMs = initial;
            chain = chain.then(() => {
              token = t;
            });
          }
        }
      }
    } catch (err) {
      if (!stopped) options.onError?.(err as Error, true);
    }
    await chain.catch(() => undefined);
    return 'retry';
  }

  let backoffMs = initial;
  const done = (async () => {
    let first = true;
    while (!stopped) {
      if (!first) stats.reconnects++;
      first = false;
      const outcome = await connectOnce();
      if (outcome === 'stop' || stopped) break;
      const wait = backoffMs * (0.5 + Math.random() / 2);
      backoffMs = Math.min(max, backoffMs * 2);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, wait);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  })();

  return {
    get token() {
      return token;
    },
    stats,
    close: () => {
      stopped = true;
      controller?.abort();
      wake?.();
    },
    done,
  };
}
