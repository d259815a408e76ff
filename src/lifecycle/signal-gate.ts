/** How {@link SignalGate} classifies a shutdown signal. */
export type SignalVerdict =
  /** The first signal: start the graceful shutdown. */
  | 'shutdown'
  /** The same delivery seen twice (process group + a forwarding parent): ignore it. */
  | 'duplicate'
  /** A later, separate signal: the operator insists, exit at once. */
  | 'force';

/** Options of {@link SignalGate}. */
export interface SignalGateOptions {
  /**
   * Signals that arrive within this many ms of the first one count as the same delivery.
   * @defaultValue 1000
   */
  sameDeliveryMs?: number;
  /** @defaultValue `Date.now` */
  now?: () => number;
}

/**
 * Tells one shutdown request from a second one. A process manager that signals the whole process
 * group (systemd, `docker stop` through npm, `timeout`) delivers SIGTERM to this process and to
 * the parent that also forwards it (`npm start`, npm itself): two copies of one request, a few ms
 * apart. Counting the copy as "a second signal" would skip the graceful shutdown, so copies that
 * arrive within `sameDeliveryMs` of the first are ignored; a signal after that forces exit.
 */
export class SignalGate {
  private first: number | undefined;
  private readonly sameDeliveryMs: number;
  private readonly now: () => number;

  constructor(options: SignalGateOptions = {}) {
    this.sameDeliveryMs = options.sameDeliveryMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Classify a signal that has just arrived. */
  receive(): SignalVerdict {
    const now = this.now();
    if (this.first === undefined) {
      this.first = now;
      return 'shutdown';
    }
    return now - this.first < this.sameDeliveryMs ? 'duplicate' : 'force';
  }
}
