import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';
import type { EdgeHistory, EdgeNotification } from './history.js';
import { hubMessage, Session, type HubMessage, type SessionSink } from './session.js';
import type { Channel, Position } from './tokens.js';

/** Options of {@link RealtimeHub}. */
export interface RealtimeHubOptions {
  /** A connection used only for the one pattern subscription (it enters subscriber mode). */
  subscriber: Redis;
  /** A connection for history reads. */
  reader: Redis;
  history?: EdgeHistory;
  /** Pub/Sub channel prefix. @defaultValue `events` */
  channelPrefix?: string;
  /** @defaultValue 1 MiB */
  clientBufferBytes?: number;
  /** @defaultValue 15 000 ms */
  heartbeatMs?: number;
  /** History entries read per request. @defaultValue 1000 */
  pageSize?: number;
  /**
   * How long after a message was published a hole before it may still be filled by a late write
   * (the repair of notifications that failed during a Pub/Sub outage, from any worker) before
   * the subscriber is told with a reset. Covers the Pub/Sub connection's reconnect spread
   * (2 s at most) and the repair. @defaultValue 2500 ms
   */
  lateGraceMs?: number;
  metrics?: DualstreamMetrics;
  logger?: Logger;
}

/** A subscriber as the hub sees it: its session and the transport's heartbeat and close. */
export interface HubClient {
  session: Session;
  transport: 'sse' | 'ws';
  heartbeat(): void;
  end(): void;
}

/**
 * Local fan-out: one Redis pattern subscription (`<channelPrefix>:*`) per process serves every
 * subscriber of the process. Each message is parsed once and handed to the sessions that follow
 * its source or its type; a slow session is dropped by itself and never delays the others.
 */
export class RealtimeHub {
  private readonly opts: RealtimeHubOptions;
  private readonly prefix: string;
  private readonly bySource = new Map<string, Set<HubClient>>();
  private readonly byType = new Map<string, Set<HubClient>>();
  private readonly clients = new Set<HubClient>();
  private heartbeat: NodeJS.Timeout | undefined;
  private subscribed = false;
  private lostSubscription = false;
  private closed = false;

  constructor(options: RealtimeHubOptions) {
    this.opts = options;
    this.prefix = `${options.channelPrefix ?? 'events'}:`;
    const sub = options.subscriber;
    if (sub.listenerCount('error') === 0) sub.on('error', () => undefined);
    if (options.reader.listenerCount('error') === 0) options.reader.on('error', () => undefined);
    sub.on('pmessage', (_pattern: string, channel: string, message: string) =>
      this.dispatch(channel, message),
    );
    sub.on('close', () => {
      if (!this.subscribed) return;
      if (!this.lostSubscription) for (const c of this.clients) c.session.suspend();
      this.lostSubscription = true;
    });
    // Messages sent while the subscription was away were missed: once it is confirmed again
    // (ioredis re-subscribes by itself; subscribing again to the same pattern is a no-op that
    // tells us when it holds), every subscriber is re-synced from the history.
    sub.on('ready', () => {
      if (!this.lostSubscription || this.closed) return;
      this.lostSubscription = false;
      sub.psubscribe(`${this.prefix}*`).then(
        () => {
          this.opts.logger?.info(
            { clients: this.clients.size },
            'Pub/Sub subscription back: resyncing subscribers from history',
          );
          for (const c of this.clients) c.session.resync();
        },
        () => {
          // Lost again before it held: the next 'ready' resyncs.
          this.lostSubscription = true;
        },
      );
    });
  }

  /** Subscribe (resolves once Redis confirmed) and start the heartbeat. */
  async start(): Promise<void> {
    await this.opts.subscriber.psubscribe(`${this.prefix}*`);
    this.subscribed = true;
    const every = this.opts.heartbeatMs ?? 15_000;
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.heartbeat();
    }, every);
    this.heartbeat.unref();
  }

  /** Number of connected subscribers. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Add a subscriber. `resume` is its decoded token (or `'unknown'` for a token that could not be
   * read); without one it starts live, at the newest retained position.
   */
  add(
    channels: Channel[],
    transport: 'sse' | 'ws',
    sink: SessionSink & { heartbeat(): void; end(): void },
    resume?: Map<string, Position> | 'unknown',
  ): HubClient {
    const m = this.opts.metrics;
    const bufferBytes = this.opts.clientBufferBytes ?? 1_048_576;
    // Register before the session reads history, so no live message can slip in between.
    const client = {} as HubClient;
    client.transport = transport;
    client.heartbeat = () => sink.heartbeat();
    client.end = () => sink.end();
    this.clients.add(client);
    for (const c of channels) {
      const map = c.kind === 'source' ? this.bySource : this.byType;
      const key = c.kind === 'source' ? c.name : c.sourceType;
      let set = map.get(key);
      if (!set) map.set(key, (set = new Set()));
      set.add(client);
    }
    m?.edgeClients.inc({ transport });
    if (resume !== undefined) m?.edgeResumes.inc({ transport });
    client.session = new Session(
      channels,
      sink,
      {
        history: this.opts.history,
        reader: this.opts.reader,
        pageSize: this.opts.pageSize ?? 1000,
        maxBufferedBytes: bufferBytes,
        maxPending: 10_000,
        lateGraceMs: this.opts.lateGraceMs ?? 2500,
        onDelivered: (msg) => {
          m?.edgeFanout.inc();
          if (msg.ts !== undefined) m?.edgeLatency.observe(Math.max(0, Date.now() - msg.ts) / 1000);
        },
        onReset: (reason) => m?.edgeResets.inc({ reason }),
        onDrop: (_s, reason) => {
          m?.edgeDropped.inc();
          this.opts.logger?.info({ reason, transport }, 'subscriber dropped');
          sink.dropped(reason);
          this.remove(client);
        },
        onError: (err) => this.opts.logger?.warn({ err }, 'subscriber history read failed'),
      },
      resume,
    );
    return client;
  }

  /** Remove a subscriber (its connection closed). Safe to call twice. */
  remove(client: HubClient): void {
    if (!this.clients.delete(client)) return;
    client.session.close();
    for (const c of client.session.channels) {
      const map = c.kind === 'source' ? this.bySource : this.byType;
      const key = c.kind === 'source' ? c.name : c.sourceType;
      const set = map.get(key);
      set?.delete(client);
      if (set?.size === 0) map.delete(key);
    }
    this.opts.metrics?.edgeClients.dec({ transport: client.transport });
  }

  /**
   * End every subscriber's connection but stay subscribed: clients reconnect and resume with
   * their tokens (before a rolling restart, or to shed load). Returns how many were ended.
   */
  disconnectAll(): number {
    const all = [...this.clients];
    for (const c of all) {
      this.remove(c);
      c.end();
    }
    return all.length;
  }

  /** End every subscriber, unsubscribe, stop the heartbeat. The connections stay the caller's. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const c of [...this.clients]) {
      this.remove(c);
      c.end();
    }
    if (this.subscribed) await this.opts.subscriber.punsubscribe().catch(() => undefined);
  }

  private dispatch(channel: string, message: string): void {
    if (!channel.startsWith(this.prefix)) return;
    let rest = channel.slice(this.prefix.length);
    // A late notification written back after an outage: sessions order it by seq.
    if (rest.startsWith(':repair:')) rest = rest.slice(':repair:'.length);
    const colon = rest.indexOf(':');
    if (colon <= 0) return;
    const sourceType = rest.slice(0, colon);
    const exact = this.bySource.get(rest);
    const typed = this.byType.get(sourceType);
    if (!exact && !typed) return;
    let msg: HubMessage;
    try {
      msg = hubMessage(JSON.parse(message) as EdgeNotification);
    } catch {
      return;
    }
    // A client following both the source and its type gets the message once.
    if (exact) for (const c of exact) c.session.live(msg);
    if (typed) {
      for (const c of typed) {
        if (!exact?.has(c)) c.session.live(msg);
      }
    }
  }
}
