import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../logger.js';
import type { DualstreamMetrics } from '../metrics.js';

/** Options of {@link StreamOwnershipClient}; everything else comes from the config. */
export interface StreamOwnershipClientOptions {
  /**
   * Consumer id, unique per process incarnation.
   * @defaultValue `<hostname>-<pid>-<8 random hex>`
   */
  id?: string;
  logger?: Logger;
  metrics?: DualstreamMetrics;
  /** Claim jobs processed at once by this client's ownership worker. @defaultValue 16 */
  claimConcurrency?: number;
  /**
   * Stop taking new streams from the LBS while owning this many (claims are still taken, so no
   * stream is left orphaned). @defaultValue Infinity
   */
  maxStreams?: number;
  /**
   * Let other live clients take new streams first while this one owns more than its share of the
   * streams held by live consumers (balances a burst of registrations across processes that run at
   * different speeds). @defaultValue true
   */
  fairShare?: boolean;
  /** BLOCK time of the LBS read; also bounds how long `done()` waits for it. @defaultValue 1000 ms */
  lbsBlockMs?: number;
  /** Subscribe to expired-key events (false: sweep only). @defaultValue true */
  keyspaceEvents?: boolean;
  /** Run the ownership worker (claims and sweeps) in this client. @defaultValue true */
  runWorker?: boolean;
  /** Notifications buffered for the iterator before the oldest are dropped. @defaultValue 10 000 */
  maxBufferedNotifications?: number;
}

/** Default consumer id: host, pid and randomness, so a restarted process never reuses one. */
export function defaultConsumerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
