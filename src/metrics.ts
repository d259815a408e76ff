import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * All Prometheus metrics of the library, on one registry. Create one per process and pass it to
 * the factories; tests create their own so counts do not leak between them.
 */
export class DualstreamMetrics {
  readonly registry: Registry;
  /** Events accepted for publishing, by entry point (`api`, `http`, `ingest`). */
  readonly eventsAccepted: Counter<'entry'>;
  /** Events rejected as invalid, by entry point. */
  readonly eventsRejected: Counter<'entry'>;
  /** Events written to Kafka. */
  readonly eventsPublished: Counter<'topic'>;
  /** Failures by pipeline stage (`validate`, `kafka`, `receipt`). */
  readonly publishFailures: Counter<'stage'>;
  /** Pub/Sub notifications that could not be sent. */
  readonly notifyFailures: Counter;
  /** Pub/Sub notifications sent. */
  readonly notificationsSent: Counter;
  /** Duration of one Kafka produce request. */
  readonly produceLatency: Histogram;
  /** Records per Kafka produce request. */
  readonly produceBatchSize: Histogram;
  /** Jobs per queue and state, refreshed on scrape. */
  readonly queueDepth: Gauge<'queue' | 'state'>;
  /** Kafka cool-downs entered by the worker. */
  readonly kafkaCooldowns: Counter;
  /** Ownership claims, by outcome (`claimed`, `owned`, `done`, `failed`). */
  readonly ownershipClaims: Counter<'outcome'>;
  /** Time from lock expiry (or release) to a new owner. */
  readonly failoverSeconds: Histogram;
  /** Streams owned by this process. */
  readonly streamsOwned: Gauge;
  /** Sources held by `ORDER_ON_FAILURE=block` (a job of theirs failed for good), per queue. */
  readonly sourcesHeld: Gauge<'queue'>;
  /** Replica waits of the order (ORDER_WAIT_REPLICAS) that came back short or failed. */
  readonly orderWaitShort: Counter;
  /** Times a job waited for an earlier job of its source, by what it waited for. */
  readonly orderWaits: Counter<'reason'>;
  /** Times the enqueue order had to be read from the queue's lists (events stream trimmed). */
  readonly orderResyncs: Counter;
  /** Subscribers connected to the real-time edge, by transport (`sse`, `ws`). */
  readonly edgeClients: Gauge<'transport'>;
  /** Messages written to subscribers (one per subscriber per message). */
  readonly edgeFanout: Counter;
  /** Subscribers dropped because they did not keep up (or history could not be read). */
  readonly edgeDropped: Counter;
  /** Subscriptions that came with a resume token, by transport. */
  readonly edgeResumes: Counter<'transport'>;
  /** Explicit resets sent to subscribers, by reason (`expired`, `unknown`, `gap`). */
  readonly edgeResets: Counter<'reason'>;
  /** From the notification's publish to its write to a subscriber. */
  readonly edgeLatency: Histogram;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    if (options.defaultMetrics)
      collectDefaultMetrics({ register: registry, prefix: 'dualstream_' });
    const r = [registry];
    this.eventsAccepted = new Counter({
      name: 'dualstream_events_accepted_total',
      help: 'Events accepted for publishing, by entry point',
      labelNames: ['entry'],
      registers: r,
    });
    this.eventsRejected = new Counter({
      name: 'dualstream_events_rejected_total',
      help: 'Events rejected as invalid, by entry point',
      labelNames: ['entry'],
      registers: r,
    });
    this.eventsPublished = new Counter({
      name: 'dualstream_events_published_total',
      help: 'Events written to Kafka',
      labelNames: ['topic'],
      registers: r,
    });
    this.publishFailures = new Counter({
      name: 'dualstream_publish_failures_total',
      help: 'Publish failures by pipeline stage',
      labelNames: ['stage'],
      registers: r,
    });
    this.notifyFailures = new Counter({
      name: 'dualstream_notify_failures_total',
      help: 'Redis Pub/Sub notifications that failed (best-effort)',
      registers: r,
    });
    this.notificationsSent = new Counter({
      name: 'dualstream_notifications_sent_total',
      help: 'Redis Pub/Sub notifications sent',
      registers: r,
    });
    this.produceLatency = new Histogram({
      name: 'dualstream_kafka_produce_seconds',
      help: 'Duration of one Kafka produce request',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    this.produceBatchSize = new Histogram({
      name: 'dualstream_kafka_batch_records',
      help: 'Records per Kafka produce request',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers: r,
    });
    this.queueDepth = new Gauge({
      name: 'dualstream_queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers: r,
    });
    this.kafkaCooldowns = new Counter({
      name: 'dualstream_kafka_cooldowns_total',
      help: 'Times the worker paused fetching because Kafka looked down',
      registers: r,
    });
    this.ownershipClaims = new Counter({
      name: 'dualstream_ownership_claims_total',
      help: 'Stream ownership claim jobs by outcome',
      labelNames: ['outcome'],
      registers: r,
    });
    this.failoverSeconds = new Histogram({
      name: 'dualstream_failover_seconds',
      help: 'Time from a lock expiry or release to the new owner taking the stream',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
      registers: r,
    });
    this.streamsOwned = new Gauge({
      name: 'dualstream_streams_owned',
      help: 'Data streams owned by this process',
      registers: r,
    });
    this.sourcesHeld = new Gauge({
      name: 'dualstream_sources_held',
      help: 'Sources held because a job of theirs failed for good (ORDER_ON_FAILURE=block)',
      labelNames: ['queue'],
      registers: r,
    });
    this.orderWaitShort = new Counter({
      name: 'dualstream_order_wait_short_total',
      help: 'Admission batches sent to Kafka before enough replicas had them (ORDER_WAIT_REPLICAS)',
      registers: r,
    });
    this.orderWaits = new Counter({
      name: 'dualstream_order_waits_total',
      help: 'Times a job waited for an earlier job of its source (inflight, pending, held, delayed)',
      labelNames: ['reason'],
      registers: r,
    });
    this.orderResyncs = new Counter({
      name: 'dualstream_order_resyncs_total',
      help: "Times the enqueue order was read from the queue's lists because the events stream was trimmed",
      registers: r,
    });
    this.edgeClients = new Gauge({
      name: 'dualstream_edge_clients',
      help: 'Subscribers connected to the real-time edge (SSE and WebSocket)',
      labelNames: ['transport'],
      registers: r,
    });
    this.edgeFanout = new Counter({
      name: 'dualstream_edge_fanout_total',
      help: 'Notifications written to subscribers of the real-time edge (one per subscriber)',
      registers: r,
    });
    this.edgeDropped = new Counter({
      name: 'dualstream_edge_dropped_total',
      help: 'Subscribers dropped because they did not keep up',
      registers: r,
    });
    this.edgeResumes = new Counter({
      name: 'dualstream_edge_resumes_total',
      help: 'Subscriptions that resumed with a token',
      labelNames: ['transport'],
      registers: r,
    });
    this.edgeResets = new Counter({
      name: 'dualstream_edge_resets_total',
      help: 'Explicit resets sent to subscribers (expired, unknown token, gap)',
      labelNames: ['reason'],
      registers: r,
    });
    this.edgeLatency = new Histogram({
      name: 'dualstream_edge_delivery_seconds',
      help: "From a notification's publish to its write to a subscriber",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    });
    for (const transport of ['sse', 'ws']) {
      this.edgeClients.set({ transport }, 0);
      this.edgeResumes.inc({ transport }, 0);
    }
    for (const reason of ['expired', 'unknown', 'gap']) this.edgeResets.inc({ reason }, 0);
    // A labelled series exists only once incremented, and Prometheus' rate()/increase() cannot
    // count a series' first value: without these zeros the first rejected event, failure stage
    // or claim outcome of a process never shows on the dashboard nor fires an alert.
    for (const entry of ['api', 'http', 'ingest']) this.eventsAccepted.inc({ entry }, 0);
    for (const entry of ['api', 'http', 'ingest', 'queue']) this.eventsRejected.inc({ entry }, 0);
    for (const stage of ['validate', 'kafka', 'receipt', 'redis'])
      this.publishFailures.inc({ stage }, 0);
    for (const outcome of ['claimed', 'owned', 'done', 'gone', 'failed'])
      this.ownershipClaims.inc({ outcome }, 0);
    for (const reason of ['inflight', 'pending', 'held', 'delayed'])
      this.orderWaits.inc({ reason }, 0);
  }
}
