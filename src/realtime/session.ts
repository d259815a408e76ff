import type { Redis } from 'ioredis';
import { sleep } from '../async.js';
import type { EventNotification } from '../events/index.js';
import {
  compareStreamIds,
  notificationOf,
  parseTypePosition,
  type EdgeHistory,
  type EdgeNotification,
} from './history.js';
import { encodeResumeToken, type Channel, type Position } from './tokens.js';

/**
 * The notification a subscriber receives: the id-only Pub/Sub message without the edge's internal
 * fields (`ts`, `pos`, `prev`).
 */
export type SubscriberNotification = EventNotification;

/** Why a subscriber is told that it did not get everything. */
export type ResetReason = 'expired' | 'unknown' | 'gap';

/**
 * An explicit discontinuity: nothing between `after` and `continues_from` of the channel (or of
 * `source` within an aggregate) will be delivered. Sent before the message it concerns.
 */
export interface ResetInfo {
  channel: string;
  reason: ResetReason;
  /** The source concerned (`sourceType:sourceId`), when the reset is about one source. */
  source?: string;
  /** The last position the subscriber had: a seq, or a type-stream id for `<type>:*`. */
  after?: Position;
  /** The seq (or type-stream id) of the next message delivered; absent: the next live one. */
  continues_from?: Position;
}

/** A message as the hub hands it to sessions: parsed once, shared by every subscriber. */
export interface HubMessage {
  /** `sourceType:sourceId` */
  source: string;
  sourceType: string;
  sourceId: string;
  seq?: number;
  pos?: string;
  /**
   * The source's previous seq in the type stream, for a message from it (`pos` set): 0 when the
   * history of the source had none, greater than `seq` for a late write after a Pub/Sub outage.
   */
  prev?: number;
  /** Publish time (ms), for the latency histogram. */
  ts?: number;
  /** The {@link SubscriberNotification} as JSON, serialized once. */
  json: string;
  /** The resume token of single-channel subscriptions, by channel: shared by its subscribers. */
  tokens?: Map<string, string>;
  /**
   * Transport frames, encoded once for every subscriber that gets the same bytes: SSE's by resume
   * token, WebSocket's by subscription id and token.
   */
  frames?: Map<string, Buffer>;
}

/** Where a session writes: an SSE response or a WebSocket. */
export interface SessionSink {
  message(token: string, msg: HubMessage): void;
  reset(token: string, info: ResetInfo): void;
  /** The subscription is open; `token` holds the starting positions. */
  opened(token: string, channels: string[]): void;
  dropped(reason: string): void;
  /** Bytes written but not yet taken by the client. */
  buffered(): number;
}

/** What a session needs from its hub. */
export interface SessionContext {
  history: EdgeHistory | undefined;
  reader: Redis;
  pageSize: number;
  maxBufferedBytes: number;
  /** Live messages held while history is read, at most. */
  maxPending: number;
  /** A hole before a message published less than this long ago waits for late writes. */
  lateGraceMs: number;
  onDelivered(msg: HubMessage): void;
  onReset(reason: ResetReason): void;
  onDrop(session: Session, reason: string): void;
  onError(err: unknown): void;
}

type Work =
  | { kind: 'live'; msg: HubMessage }
  /** `from`: the type positions to read after, fixed when the replay was asked for. */
  | { kind: 'replay'; unknownToken: boolean; from?: Map<string, Position> }
  | { kind: 'open' };

/** Build a {@link HubMessage} from a Pub/Sub message or a retained notification. */
export function hubMessage(n: EdgeNotification): HubMessage {
  const pub: SubscriberNotification = {
    id: n.id,
    type: n.type,
    source_type: n.source_type,
    source_id: n.source_id,
    topic: n.topic,
    partition: n.partition,
    offset: n.offset,
    ...(n.seq !== undefined ? { seq: n.seq } : {}),
  };
  return {
    source: `${n.source_type}:${n.source_id}`,
    sourceType: n.source_type,
    sourceId: n.source_id,
    ...(n.seq !== undefined ? { seq: n.seq } : {}),
    ...(n.pos !== undefined ? { pos: n.pos } : {}),
    ...(n.pos !== undefined && n.prev !== undefined ? { prev: n.prev } : {}),
    ...(n.ts !== undefined ? { ts: n.ts } : {}),
    json: JSON.stringify(pub),
  };
}

/**
 * One subscriber's state: its channels and positions, the last seq delivered per source, and a
 * work queue. Live messages are delivered at once when nothing is pending; while history is read
 * (resume, a seq jump, a hub reconnect) they wait in the queue, and are de-duplicated by seq
 * afterwards, so nothing slips between history and live and nothing comes twice. A source never
 * jumps forward without a {@link ResetInfo} right before.
 */
export class Session {
  readonly channels: Channel[];
  private readonly followsType: boolean;
  private readonly positions = new Map<string, Position>();
  private readonly last = new Map<string, number>();
  private readonly queue: Work[] = [];
  private busy = false;
  /** Set once the subscriber was told it is subscribed (a later replay is a resync). */
  private opened = false;
  private suspendedAt: Map<string, Position> | undefined;
  /**
   * The history started anew while this subscriber was live (the Pub/Sub Redis lost it): a
   * source it has not seen yet may have had events it missed, so such a source counts from 0.
   */
  private historyLost = false;
  closed = false;

  constructor(
    channels: Channel[],
    private readonly sink: SessionSink,
    private readonly ctx: SessionContext,
    resume?: Map<string, Position> | 'unknown',
  ) {
    this.channels = channels;
    this.followsType = channels.some((c) => c.kind === 'type');
    if (resume === undefined) {
      this.queue.push({ kind: 'open' });
    } else {
      if (resume !== 'unknown') {
        for (const c of channels) {
          const p = resume.get(c.name);
          if (p === undefined) continue;
          if (c.kind === 'source' && typeof p === 'number') {
            this.positions.set(c.name, p);
            this.last.set(c.name, p);
          } else if (c.kind === 'type' && typeof p === 'string') this.positions.set(c.name, p);
        }
      }
      this.queue.push({ kind: 'replay', unknownToken: resume === 'unknown' });
    }
    this.pump();
  }

  /** The current resume token. */
  token(): string {
    return encodeResumeToken(this.positions);
  }

  /** A live message from the hub (already matched to one of this session's channels). */
  live(msg: HubMessage): void {
    if (this.closed) return;
    this.noteEpoch(msg);
    // While the subscription is lost (ioredis may already have re-subscribed by itself), a
    // message waits for the resync's replay: its `prev` may name an entry published meanwhile.
    if (
      this.suspendedAt === undefined &&
      !this.busy &&
      this.queue.length === 0 &&
      !this.needsFill(msg)
    ) {
      this.deliver(msg);
      return;
    }
    if (this.queue.length >= this.ctx.maxPending) {
      this.drop(`more than ${this.ctx.maxPending} messages waiting while history was read`);
      return;
    }
    this.queue.push({ kind: 'live', msg });
    this.pump();
  }

  /**
   * The hub's subscription is lost: remember the positions of this moment. Messages may still
   * trickle in before it notices, and would move the positions past what it misses meanwhile.
   */
  suspend(): void {
    this.suspendedAt ??= new Map(this.positions);
  }

  /**
   * Read history again from the positions held when the subscription was lost; what was
   * delivered since is dropped by seq. The replay goes before the live messages that queued
   * while the subscription was away (one may name a predecessor published meanwhile, which the
   * replay brings), and reads from those positions even when a live message in the works is
   * delivered first and moves the token past what was missed.
   */
  resync(): void {
    if (this.closed) return;
    const from = new Map<string, Position>();
    for (const [channel, p] of this.suspendedAt ?? this.positions) {
      if (typeof p !== 'string') continue;
      from.set(channel, p);
      // The token goes back too, until the replay has delivered what was missed.
      this.positions.set(channel, p);
    }
    this.suspendedAt = undefined;
    this.queue.unshift({ kind: 'replay', unknownToken: false, from });
    this.pump();
  }

  /**
   * The token after delivering `msg`. A single-channel subscription's token depends only on the
   * channel and the message, so thousands of subscribers of a hot source share one encoding.
   */
  private messageToken(msg: HubMessage): string {
    if (this.channels.length !== 1) return this.token();
    const key = this.channels[0]!.name;
    msg.tokens ??= new Map();
    let t = msg.tokens.get(key);
    if (t === undefined) msg.tokens.set(key, (t = this.token()));
    return t;
  }

  /** Stop: nothing more is written. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private drop(reason: string): void {
    if (this.closed) return;
    this.close();
    this.ctx.onDrop(this, reason);
  }

  /**
   * The last seq of the message's source this subscriber has: delivered, or from its token. For a
   * source not seen yet, a message from the type stream names the source's previous entry there
   * (`prev`), which the subscriber had or gets before this one. A `prev` of 0 (the source's first
   * entry in the history) or not below `seq` (a late write after a Pub/Sub outage, its later seqs
   * went first) vouches for nothing: the subscriber counts from 0, so whatever is missing before
   * `seq` is filled from the history or announced — never skipped when it is written late.
   */
  private knownLast(msg: HubMessage): number | undefined {
    const known = this.last.get(msg.source);
    if (known !== undefined) return known;
    if (msg.pos !== undefined && msg.seq !== undefined) {
      const prev = msg.prev ?? 0;
      return prev > 0 && prev < msg.seq ? prev : 0;
    }
    return this.historyLost ? 0 : undefined;
  }

  private needsFill(msg: HubMessage): boolean {
    if (msg.seq === undefined) return false;
    const last = this.knownLast(msg);
    return last !== undefined && msg.seq > last + 1;
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    this.busy = true;
    void (async () => {
      try {
        while (this.queue.length > 0 && !this.closed) {
          // Suspended: live messages wait for the replay that resync() puts before them.
          if (this.suspendedAt !== undefined && this.queue[0]!.kind === 'live') break;
          const work = this.queue.shift()!;
          if (work.kind === 'live') await this.liveWithFill(work.msg);
          else if (work.kind === 'open') await this.open();
          else await this.replay(work.unknownToken, work.from);
        }
      } catch (err) {
        this.ctx.onError(err);
        this.drop('history could not be read; reconnect with your token');
      } finally {
        this.busy = false;
      }
    })();
  }

  /** A fresh subscription: start at the newest retained position of each channel. */
  private async open(): Promise<void> {
    const h = this.ctx.history;
    if (h) {
      for (const c of this.channels) {
        if (c.kind === 'source') {
          // The newest retained seq, or (all of it expired) the last the history had.
          const [top, tlast] = await Promise.all([
            this.ctx.reader.zrevrange(h.keys.source(c.sourceType, c.sourceId), 0, 0, 'WITHSCORES'),
            this.ctx.reader.hget(h.keys.sourceMeta(c.sourceType, c.sourceId), 'tlast'),
          ]);
          const at = top[1] ?? tlast ?? undefined;
          if (at !== undefined) {
            this.positions.set(c.name, Number(at));
            this.last.set(c.name, Number(at));
          }
        } else {
          this.positions.set(c.name, await h.typeEnd(this.ctx.reader, c.sourceType));
        }
      }
    }
    this.markOpened();
  }

  /** A message from a new epoch of its type's history: the old history was lost. */
  private noteEpoch(msg: HubMessage): void {
    // Only a subscriber of the type holds a type position to compare with.
    if (!this.followsType || this.historyLost || msg.pos === undefined) return;
    const held = this.positions.get(`${msg.sourceType}:*`);
    if (typeof held !== 'string') return;
    const next = parseTypePosition(msg.pos);
    const cur = parseTypePosition(held);
    if (next && cur?.epoch && next.epoch && cur.epoch !== next.epoch) this.historyLost = true;
  }

  private markOpened(): void {
    this.opened = true;
    this.sink.opened(
      this.token(),
      this.channels.map((c) => c.name),
    );
  }

  /**
   * Resume: every retained message after the positions (a type channel's from `from` when
   * given), in order, then live.
   */
  private async replay(unknownToken: boolean, from?: Map<string, Position>): Promise<void> {
    const h = this.ctx.history;
    if (unknownToken) {
      for (const c of this.channels) {
        this.emitReset({ channel: c.name, reason: 'unknown' });
        // From the oldest retained (an empty epoch matches any).
        this.positions.set(c.name, c.kind === 'source' ? 0 : '0-0@');
        if (c.kind === 'source') this.last.set(c.name, 0);
      }
    }
    if (!h) {
      if (!this.opened) this.markOpened();
      return;
    }
    for (const c of this.channels) {
      const p = (c.kind === 'type' ? from?.get(c.name) : undefined) ?? this.positions.get(c.name);
      if (c.kind === 'source') {
        if (p === undefined) continue;
        await this.fillSource(c.sourceType, c.sourceId, Number.POSITIVE_INFINITY);
        if (this.closed) return;
        continue;
      }
      const tp = typeof p === 'string' ? parseTypePosition(p) : undefined;
      if (tp === undefined) {
        this.positions.set(c.name, await h.typeEnd(this.ctx.reader, c.sourceType));
        continue;
      }
      let after = tp.id;
      let first = true;
      for (;;) {
        let page = await h.readType(this.ctx.reader, c.sourceType, after, this.ctx.pageSize);
        if (first && tp.epoch && page.epoch && tp.epoch !== page.epoch) {
          // The type's history started anew (the Pub/Sub Redis lost it, or all of it expired):
          // the token's position means nothing there. A live subscriber knows each source's last
          // seq and needs no reset; a resuming one is told.
          if (!this.opened) this.emitReset({ channel: c.name, reason: 'expired', after: p! });
          else this.historyLost = true;
          after = '0-0';
          page = await h.readType(this.ctx.reader, c.sourceType, after, this.ctx.pageSize);
        } else if (first && compareStreamIds(page.trimmed, after) > 0) {
          this.emitReset({
            channel: c.name,
            reason: 'expired',
            after: p!,
            ...(page.notifications[0]?.pos ? { continues_from: page.notifications[0].pos } : {}),
          });
        }
        first = false;
        for (const n of page.notifications) {
          await this.liveWithFill(hubMessage(n));
          if (this.closed) return;
        }
        const lastPos = page.notifications.at(-1)?.pos;
        if (page.notifications.length < this.ctx.pageSize || !lastPos) break;
        after = parseTypePosition(lastPos)?.id ?? after;
      }
    }
    if (!this.opened) this.markOpened();
  }

  private async liveWithFill(msg: HubMessage): Promise<void> {
    this.noteEpoch(msg);
    if (this.needsFill(msg)) {
      if (!this.last.has(msg.source)) this.last.set(msg.source, this.knownLast(msg)!);
      await this.fillSource(msg.sourceType, msg.sourceId, msg.seq!);
      // Right after a Pub/Sub outage a hole is mostly a late write on its way: the notifications
      // that failed wait in the workers' repair backlogs until their connections are back.
      // Wait until the grace after the message's publish time has passed, then fill once more;
      // what is still missing is announced by deliver(). Later messages queue meanwhile.
      const wait = msg.ts === undefined ? 0 : msg.ts + this.ctx.lateGraceMs - Date.now();
      if (wait > 0 && this.needsFill(msg) && !this.closed) {
        await sleep(Math.min(wait, this.ctx.lateGraceMs), { unref: true });
        await this.fillSource(msg.sourceType, msg.sourceId, msg.seq!);
      }
    }
    this.deliver(msg);
  }

  /**
   * Deliver retained events of a source after its last delivered seq and before `before`; any
   * hole (trimmed, or never retained) is announced with a reset.
   */
  private async fillSource(sourceType: string, sourceId: string, before: number): Promise<void> {
    const h = this.ctx.history;
    const source = `${sourceType}:${sourceId}`;
    if (!h) return;
    for (;;) {
      const after = this.last.get(source) ?? 0;
      const page = await h.readSource(
        this.ctx.reader,
        sourceType,
        sourceId,
        after,
        this.ctx.pageSize,
      );
      let delivered = 0;
      for (const e of page.events) {
        if (e.seq >= before) return;
        this.deliver(hubMessage(notificationOf(e)), page.trimmed);
        delivered++;
        if (this.closed) return;
      }
      if (page.events.length < this.ctx.pageSize || delivered === 0) return;
    }
  }

  private channelOf(msg: HubMessage): string {
    const exact = this.channels.find((c) => c.kind === 'source' && c.name === msg.source);
    return exact?.name ?? `${msg.sourceType}:*`;
  }

  private emitReset(info: ResetInfo): void {
    this.ctx.onReset(info.reason);
    this.sink.reset(this.token(), info);
  }

  private deliver(msg: HubMessage, trimmed = 0): void {
    if (this.closed) return;
    if (msg.seq !== undefined) {
      const last = this.knownLast(msg);
      if (last !== undefined && msg.seq <= last) return;
      if (last !== undefined && msg.seq > last + 1) {
        this.emitReset({
          channel: this.channelOf(msg),
          reason: trimmed > last ? 'expired' : 'gap',
          source: msg.source,
          after: last,
          continues_from: msg.seq,
        });
      }
      this.last.set(msg.source, msg.seq);
    }
    for (const c of this.channels) {
      if (c.kind === 'source' && c.name === msg.source && msg.seq !== undefined) {
        this.positions.set(c.name, msg.seq);
      } else if (c.kind === 'type' && c.sourceType === msg.sourceType && msg.pos !== undefined) {
        const held = this.positions.get(c.name);
        const cur = typeof held === 'string' ? parseTypePosition(held) : undefined;
        const next = parseTypePosition(msg.pos);
        if (next && (!cur || cur.epoch !== next.epoch || compareStreamIds(next.id, cur.id) > 0)) {
          this.positions.set(c.name, msg.pos);
        }
      }
    }
    this.sink.message(this.messageToken(msg), msg);
    this.ctx.onDelivered(msg);
    if (this.sink.buffered() > this.ctx.maxBufferedBytes) {
      this.drop(
        `slow client: more than ${this.ctx.maxBufferedBytes} bytes not taken; reconnect with your token`,
      );
    }
  }
}
