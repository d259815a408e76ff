/** Options of {@link KafkaBreaker}. */
export interface KafkaBreakerOptions {
  /** Consecutive failed produce requests that open the breaker. Default: 3 (config) */
  failureThreshold: number;
  /** How long to stop taking jobs once open. Default: 5000 ms (config) */
  cooldownMs: number;
  /** While a probe is in flight, other jobs are held this long. @defaultValue min(cooldownMs, 1000) */
  probeHoldMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** What to do with a job that needs Kafka. */
export type BreakerDecision = { go: true; probe: boolean } | { go: false; holdMs: number };

/**
 * Circuit breaker for Kafka outages, pure logic: closed (jobs go), open (jobs are held for the
 * cool-down), half-open (one probe job goes; its success closes, its failure opens again).
 * Failures are counted per produce request by the sink, so 256 jobs failing together in one
 * request count once.
 */
export class KafkaBreaker {
  private state: 'closed' | 'open' | 'probing' = 'closed';
  private openUntil = 0;
  private readonly now: () => number;
  private readonly probeHoldMs: number;

  constructor(private readonly opts: KafkaBreakerOptions) {
    this.now = opts.now ?? Date.now;
    this.probeHoldMs = opts.probeHoldMs ?? Math.min(opts.cooldownMs, 1000);
  }

  /** Current state, for logs and tests. */
  get current(): 'closed' | 'open' | 'probing' {
    return this.state;
  }

  /** Ask before a Kafka write. */
  admit(): BreakerDecision {
    if (this.state === 'closed') return { go: true, probe: false };
    if (this.state === 'open') {
      const left = this.openUntil - this.now();
      if (left > 0) return { go: false, holdMs: left };
      this.state = 'probing';
      return { go: true, probe: true };
    }
    return { go: false, holdMs: this.probeHoldMs };
  }

  /**
   * The probe job did not reach Kafka after all (it stepped aside to wait for its source): let
   * the next job probe instead.
   */
  cancelProbe(): void {
    if (this.state !== 'probing') return;
    this.state = 'open';
    this.openUntil = this.now();
  }

  /** A Kafka write succeeded. */
  onSuccess(): void {
    this.state = 'closed';
  }

  /**
   * A Kafka write failed; `streak` is the sink's count of produce requests failed in a row.
   * Returns true when the breaker (re)opened: the caller should hold the job without spending
   * an attempt.
   */
  onFailure(streak: number, probe: boolean): boolean {
    if (this.state === 'open') return true;
    if (probe || this.state === 'probing' || streak >= this.opts.failureThreshold) {
      this.state = 'open';
      this.openUntil = this.now() + this.opts.cooldownMs;
      return true;
    }
    return false;
  }

  /** Remaining cool-down in ms (0 when not open). */
  remainingMs(): number {
    return this.state === 'open' ? Math.max(0, this.openUntil - this.now()) : 0;
  }
}
