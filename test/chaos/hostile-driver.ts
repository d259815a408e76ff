import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { HostileBody, HostileEntry, HostileEvent } from './hostile.js';

/** Outcome of one hostile input at its entry point. */
export interface HostileOutcome {
  entry: 'bullmq' | 'http' | 'stream';
  kind: string;
  marker: string;
  /** BullMQ job id, or the id a stream entry would get (`<stream>-<entryId>`). */
  ref?: string;
  /** Stream and entry id of a hostile stream entry. */
  stream?: string;
  entryId?: string;
  /** HTTP status or error text. */
  answer?: string;
  /** Refused at the entry point as expected (HTTP 400/413/415); BullMQ/stream: judged later. */
  refusedAtEntry?: boolean;
  /** Ids of valid events that rode along in a refused request; they must not reach Kafka. */
  innocentIds?: string[];
  /**
   * The entry point was not there to judge it: a stream entry whose XADD failed (the stream's
   * Redis master was down). Nothing entered, so there is nothing to reject.
   */
  unsent?: boolean;
}

/** Options of {@link HostileDriver}. */
export interface HostileDriverOptions {
  plainQueue: Queue;
  httpUrl: string;
  httpAuth: string;
  redis: Redis;
  streams: string[];
  jobs: HostileEvent[];
  bodies: HostileBody[];
  entries: HostileEntry[];
  /** Spread everything over this many ms. */
  durationMs: number;
}

/**
 * Feeds the hostile inputs alongside the valid load, spread evenly over the load phase, one
 * entry point after the other in round robin. BullMQ jobs get attempts 5: a job that fails
 * without UnrecoverableError would be retried, which the verifier detects from attemptsMade.
 */
export class HostileDriver {
  readonly outcomes: HostileOutcome[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  private timer?: NodeJS.Timeout;
  private next = { jobs: 0, bodies: 0, entries: 0 };

  constructor(private readonly o: HostileDriverOptions) {}

  get total(): number {
    return this.o.jobs.length + this.o.bodies.length + this.o.entries.length;
  }

  start(): void {
    const startedAt = Date.now();
    this.timer = setInterval(() => {
      const frac = Math.min(1, (Date.now() - startedAt) / this.o.durationMs);
      this.sendJobs(Math.floor(frac * this.o.jobs.length));
      this.sendBodies(Math.floor(frac * this.o.bodies.length));
      this.sendEntries(Math.floor(frac * this.o.entries.length));
      if (frac >= 1) clearInterval(this.timer);
    }, 100);
  }

  /** Send whatever is left at once and wait for every answer. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.sendJobs(this.o.jobs.length);
    this.sendBodies(this.o.bodies.length);
    this.sendEntries(this.o.entries.length);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private sendJobs(upTo: number): void {
    for (; this.next.jobs < upTo; this.next.jobs++) {
      const h = this.o.jobs[this.next.jobs]!;
      const outcome: HostileOutcome = {
        entry: 'bullmq',
        kind: h.kind,
        marker: h.marker,
        ref: `bad-${h.marker}`,
      };
      this.outcomes.push(outcome);
      this.track(
        this.o.plainQueue
          .add('event', h.value, {
            jobId: outcome.ref,
            attempts: 5,
            backoff: { type: 'fixed', delay: 200 },
          })
          .then(
            () => {
              outcome.answer = 'added';
            },
            (err: unknown) => {
              // BullMQ itself refusing the data is a refusal too.
              outcome.answer = `add failed: ${String(err).slice(0, 200)}`;
              outcome.refusedAtEntry = true;
            },
          ),
      );
    }
  }

  private sendBodies(upTo: number): void {
    for (; this.next.bodies < upTo; this.next.bodies++) {
      const b = this.o.bodies[this.next.bodies]!;
      const outcome: HostileOutcome = {
        entry: 'http',
        kind: b.kind,
        marker: b.marker,
        innocentIds: b.innocentIds,
      };
      this.outcomes.push(outcome);
      this.track(
        fetch(this.o.httpUrl, {
          method: 'POST',
          headers: { 'content-type': b.contentType, authorization: this.o.httpAuth },
          body: b.body,
          signal: AbortSignal.timeout(15_000),
        })
          .then(async (res) => {
            await res.arrayBuffer();
            outcome.answer = String(res.status);
            outcome.refusedAtEntry = b.expect.includes(res.status);
          })
          .catch((err: unknown) => {
            outcome.answer = `error: ${String(err).slice(0, 200)}`;
            outcome.refusedAtEntry = false;
          }),
      );
    }
  }

  private sendEntries(upTo: number): void {
    for (; this.next.entries < upTo; this.next.entries++) {
      const e = this.o.entries[this.next.entries]!;
      const stream = this.o.streams[this.next.entries % this.o.streams.length]!;
      const outcome: HostileOutcome = { entry: 'stream', kind: e.kind, marker: e.marker };
      this.outcomes.push(outcome);
      this.track(
        this.o.redis.xadd(stream, '*', ...e.fields).then(
          (entryId) => {
            outcome.ref = `${stream}-${entryId}`;
            outcome.stream = stream;
            outcome.entryId = entryId ?? undefined;
            outcome.answer = 'xadd';
          },
          (err: unknown) => {
            outcome.answer = `xadd failed: ${String(err).slice(0, 200)}`;
            outcome.unsent = true;
          },
        ),
      );
    }
  }
}
