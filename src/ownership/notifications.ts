import type { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import type { ClaimReason } from './claim-queue.js';
import type { StreamInfo } from './lbs.js';
import { NotificationStream } from './notification-stream.js';
import type { StreamLease } from './stream-lease.js';

/** A new stream from the LBS, now owned (locked) by this client. */
export interface StreamAddedNotification {
  type: 'StreamAdded';
  stream: string;
  lbsId: string;
  info: StreamInfo;
  lease: StreamLease;
}
/** A stream taken over from a crashed, stalled or departing owner. */
export interface StreamClaimedNotification {
  type: 'StreamClaimed';
  stream: string;
  lbsId: string;
  info: StreamInfo;
  lease: StreamLease;
  reason: ClaimReason;
  /** Time from the previous lock's expiry (or release) to this claim. */
  failoverMs?: number;
}
/** Some owner's lock expired (seen by every client); a claim job has been enqueued. */
export interface StreamExpiredNotification {
  type: 'StreamExpired';
  stream: string;
}
/** This client lost a stream; all work on it must stop (its lease's signal has fired). */
export interface StreamDisownedNotification {
  type: 'StreamDisowned';
  stream: string;
  reason: string;
}

/** Every notification of the client, as yielded by the iterator of `StreamOwnershipClient.init`. */
export type OwnershipNotification =
  | StreamAddedNotification
  | StreamClaimedNotification
  | StreamExpiredNotification
  | StreamDisownedNotification;

/** Typed events of `StreamOwnershipClient`. */
export interface StreamOwnershipEvents {
  StreamAdded: [n: StreamAddedNotification];
  StreamClaimed: [n: StreamClaimedNotification];
  StreamExpired: [n: StreamExpiredNotification];
  StreamDisowned: [n: StreamDisownedNotification];
  /** Errors of background loops (LBS reader, renewals, listener, claim worker). */
  error: [err: Error];
}

/** Where the parts of the client announce what happened to a stream. */
export interface NotificationSink {
  publish(n: OwnershipNotification): void;
}

/**
 * Delivers each notification twice, as the Go library's users and Node users each expect: to
 * every open iterator (bounded buffers) and as a typed event of the client. A listener that
 * throws is logged and cannot break the part that announced.
 */
export class OwnershipNotifier implements NotificationSink {
  private readonly streams = new Set<NotificationStream<OwnershipNotification>>();

  constructor(
    private readonly emitter: Pick<EventEmitter, 'emit'>,
    private readonly logger: Logger,
  ) {}

  /** A new iterator that buffers up to `max` notifications from now on. */
  open(max: number): AsyncIterableIterator<OwnershipNotification> {
    const stream = new NotificationStream<OwnershipNotification>(max);
    this.streams.add(stream);
    return stream;
  }

  publish(n: OwnershipNotification): void {
    for (const s of this.streams) s.push(n);
    try {
      this.emitter.emit(n.type, n);
    } catch (err) {
      this.logger.error({ err, notification: n.type }, 'a notification listener threw');
    }
  }

  /** End every iterator (they resolve as done). */
  end(): void {
    for (const s of this.streams) s.end();
  }
}
