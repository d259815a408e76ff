import type { Failover } from './lock-watcher.js';
import type { TimelineEntry } from './log.js';
import type { ChaosOptions } from './options.js';
import type { VerifyResult } from './verify.js';
import type { SubscriberVerdict } from './edge-subscribers.js';

/** One injected fault, as logged. */
export interface FaultRecord {
  fault: string;
  /** ISO time of the injection. */
  at: string;
  process?: string;
  pid?: number | undefined;
  recoveredAt?: string;
  downS?: number;
}

/** Hostile input of one entry point. */
export interface HostileEntrySummary {
  tried: number;
  rejected: number;
  /** Not taken in at all: the entry point was down (e.g. XADD during a Redis failover). */
  unsent: number;
  misbehaved: number;
  samples: string[];
}

/** Hostile input per entry point: tried, correctly rejected, and anything else. */
export interface HostileSummary {
  bullmq: HostileEntrySummary;
  http: HostileEntrySummary;
  stream: HostileEntrySummary;
  leakedIntoKafka: number;
  byKind: Record<string, number>;
}

/** Inputs of {@link buildReport}. */
export interface ReportInput {
  runId: string;
  options: ChaosOptions;
  startedAt: string;
  loadStart: number;
  loadEnd: number;
  result: VerifyResult;
  hostile: HostileSummary;
  discardedValidHostile: number;
  skippedOffers: number;
  faults: FaultRecord[];
  killSnapshots: Array<{ worker: string; activeInQueue: number; activeInKilledWorker: number }>;
  /** Jobs active right after the broker kill (their produce request may have been in flight). */
  inFlightAtKafkaKill: number;
  failovers: Array<{ fault: string; failovers: Failover[] }>;
  /** Failover times logged by the ingesters (lock expiry or release → claim), sorted. */
  productFailoverMs: number[];
  failed: { total: number; hostile: number; valid: number; samples: string[] };
  drain: { drained: boolean; ms: number; detail: string };
  notificationsReceived: number;
  notificationsWithPayload: number;
  /** The real-time edge's subscribers (typed client, plain SSE) and what they ended with. */
  subscribers?: SubscriberVerdict[];
  peakRssKb: Record<string, number>;
  unexpectedExits: string[];
  /** Processes that did not stop on SIGTERM within the grace (they were killed). */
  notGraceful?: string[];
  timeline: TimelineEntry[];
  logDir: string;
}

/** The report: the figures, the checks and the verdict. Written as JSON next to the logs. */
export interface ChaosReport extends Omit<ReportInput, 'options'> {
  options: ChaosOptions;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
  passed: boolean;
  rows: Array<[string, string, string]>;
}

/** Evaluate the checks and lay out the table. */
export function buildReport(input: ReportInput): ChaosReport {
  const r = input.result;
  const dupBound =
    input.killSnapshots.reduce((a, k) => a + k.activeInKilledWorker, 0) + input.inFlightAtKafkaKill;
  const hostileBad =
    input.hostile.bullmq.misbehaved +
    input.hostile.http.misbehaved +
    input.hostile.stream.misbehaved;
  // A Redis master kill (Redis Cluster) may cost what asynchronous replication had not copied;
  // those events are listed one by one (result.redisFailover) and kept apart from the checks,
  // which every other event must pass.
  const rf = r.redisFailover;
  const atKill = (n: number) => (rf.kills > 0 ? `, ${n} of them at the Redis master kill` : '');
  const checks: ChaosReport['checks'] = [
    {
      name: rf.kills > 0 ? 'lost = 0 (outside the Redis master kill)' : 'lost = 0',
      ok: r.lost - rf.lost === 0,
      detail: `${r.lost} accepted events missing from Kafka${atKill(rf.lost)}`,
    },
    {
      name: 'leaked = 0',
      ok: r.leaked.total === 0,
      detail: `${r.leaked.total} invalid or unknown records in Kafka`,
    },
    {
      name: 'duplicates explained',
      ok: r.duplicates.unexplained === 0 && r.duplicates.explained <= dupBound,
      detail: `${r.duplicates.explained} explained (bound ${dupBound}: jobs active in killed workers or at the broker kill), ${r.duplicates.unexplained} unexplained`,
    },
    {
      name: 'hostile input rejected',
      ok: hostileBad === 0,
      detail: `${hostileBad} hostile inputs not rejected as specified`,
    },
    {
      name: 'no valid job failed',
      ok: input.failed.valid === 0,
      detail: `${input.failed.valid} valid jobs in the failed set`,
    },
    { name: 'drained', ok: input.drain.drained, detail: input.drain.detail },
    {
      name: 'no unexpected exits',
      ok: input.unexpectedExits.length === 0,
      detail: input.unexpectedExits.join('; ') || 'none',
    },
    {
      name: 'per-source order',
      ok: r.order.inversions - rf.inversions === 0 && r.order.splitSources === 0,
      detail: `${r.order.inversions} events after a later one of their source (${r.order.sources} sources)${atKill(rf.inversions)}`,
    },
    {
      name: 'source-seq gap-free',
      ok:
        r.order.seqGaps - rf.seqGaps === 0 &&
        r.order.duplicateSeqMismatches - rf.seqMismatches === 0,
      detail: `${r.order.seqGaps} seq gaps, ${r.order.duplicateSeqMismatches} duplicates with another seq${atKill(rf.seqGaps + rf.seqMismatches)}`,
    },
    {
      name: 'graceful shutdown',
      ok: (input.notGraceful ?? []).length === 0,
      detail: (input.notGraceful ?? []).join('; ') || 'every process stopped on SIGTERM',
    },
    {
      name: 'notifications id-only',
      ok: input.notificationsWithPayload === 0,
      detail: `${input.notificationsWithPayload} carried a payload`,
    },
  ];
  const subs = input.subscribers ?? [];
  if (subs.length > 0) {
    const bad = subs.filter((v) => !v.ok);
    checks.push({
      name: 'edge subscribers complete',
      ok: bad.length === 0,
      detail: bad.length
        ? bad
            .map(
              (v) =>
                `${v.name}: ${v.missingUnexplained} missing without a reset (${v.missingSamples.join(' ')}), ${v.duplicates} twice, ${v.inversions} out of order`,
            )
            .join('; ')
        : `${subs.length} subscribers: every event in seq order, or an explicit reset`,
    });
  }
  const passed = checks.every((c) => c.ok);
  const rows: Array<[string, string, string]> = [];
  const row = (figure: string, value: string | number, check = '') =>
    rows.push([figure, String(value), check]);
  const per = r.perEntry;
  const mark = (ok: boolean) => (ok ? 'ok' : 'FAIL');

  row(
    'events offered (bullmq / http / stream)',
    `${per.bullmq.offered + per.http.offered + per.stream.offered} (${per.bullmq.offered} / ${per.http.offered} / ${per.stream.offered})`,
  );
  row(
    'events accepted',
    `${r.accepted} (${per.bullmq.accepted} / ${per.http.accepted} / ${per.stream.accepted})`,
  );
  row(
    'refused at entry (e.g. 503) / no answer',
    `${per.bullmq.refused + per.http.refused + per.stream.refused} / ${per.bullmq.uncertain + per.http.uncertain + per.stream.uncertain}`,
    r.refusedButInKafka ? `${r.refusedButInKafka} refused but in Kafka` : '',
  );
  row(
    'accepted events in Kafka',
    `${r.acceptedInKafka} (${per.bullmq.inKafka} / ${per.http.inKafka} / ${per.stream.inKafka})`,
  );
  row('LOST', r.lost, mark(checks[0]!.ok));
  row('sources checked for order / seq', r.order.sources);
  row('ORDER INVERSIONS', r.order.inversions, mark(checks[7]!.ok));
  row(
    'SEQ GAPS (duplicates with another seq)',
    `${r.order.seqGaps} (${r.order.duplicateSeqMismatches})`,
    mark(checks[8]!.ok),
  );
  if (rf.kills > 0) {
    row(
      'at the Redis master kill: lost / inversions / gaps / dups',
      `${rf.lost} / ${rf.inversions} / ${rf.seqGaps + rf.seqMismatches} / ${rf.duplicates}`,
      'async replication',
    );
  }
  row('Kafka records read', r.recordsInKafka);
  row(
    'duplicate ids (extra records)',
    `${r.duplicates.ids} (${r.duplicates.extraRecords})`,
    mark(checks[2]!.ok),
  );
  row(
    '  explained: active at a worker or broker kill',
    `${r.duplicates.explained} of bound ${dupBound} (broker kill: ${input.inFlightAtKafkaKill})`,
  );
  row('  unexplained', r.duplicates.unexplained);
  row(
    'notifications while Pub/Sub up (delivered / expected)',
    `${r.notifications.delivered} / ${r.notifications.expected} (${(r.notifications.ratio * 100).toFixed(2)} %)`,
  );
  row('notifications received in total', input.notificationsReceived);
  for (const v of subs) {
    row(
      `edge subscriber ${v.name} (delivered / filled / connections)`,
      `${v.delivered} / ${v.filled} / ${v.connections} over ${v.sources} sources`,
      mark(v.ok),
    );
    row(
      '  resets (missed for good) / unexplained / twice / out of order',
      `${v.resets}${v.resetDetail ? ` [${v.resetDetail}]` : ''} / ${v.missingUnexplained} / ${v.duplicates} / ${v.inversions}`,
    );
  }
  const h = input.hostile;
  for (const e of ['bullmq', 'http', 'stream'] as const) {
    row(
      `invalid inputs ${e} (tried / rejected${h[e].unsent ? ' / not sent, entry down' : ''})`,
      `${h[e].tried} / ${h[e].rejected}${h[e].unsent ? ` / ${h[e].unsent}` : ''}`,
      mark(h[e].misbehaved === 0),
    );
  }
  row(
    'LEAKED into Kafka',
    `${r.leaked.total} (schema ${r.leaked.invalidSchema}, marker ${r.leaked.hostileMarker}, hostile id ${r.leaked.hostileId}, unknown id ${r.leaked.unknownId})`,
    mark(r.leaked.total === 0),
  );
  const killedCount = input.faults.filter((f) => f.fault.startsWith('kill -9')).length;
  row(
    'processes killed (kill -9) / stopped',
    `${killedCount} / ${input.faults.filter((f) => f.fault.startsWith('SIGSTOP')).length}`,
  );
  for (const f of input.faults) {
    row(`  ${f.fault}`, f.at, f.downS !== undefined ? `down ${f.downS.toFixed(1)} s` : '');
  }
  for (const fo of input.failovers) {
    const ms = fo.failovers.map((x) => x.ms).filter((x): x is number => x !== undefined);
    const stuck = fo.failovers.length - ms.length;
    row(
      `  failovers after ${fo.fault}`,
      `${fo.failovers.length} streams`,
      ms.length
        ? `${(Math.min(...ms) / 1000).toFixed(2)}–${(Math.max(...ms) / 1000).toFixed(2)} s${stuck ? `, ${stuck} NOT moved` : ''}`
        : stuck
          ? `${stuck} NOT moved`
          : '',
    );
  }
  if (input.productFailoverMs.length > 0) {
    const f = input.productFailoverMs;
    row(
      '  claims logged by ingesters (expiry → claim)',
      `${f.length}`,
      `median ${f[Math.floor(f.length / 2)]} ms, max ${f[f.length - 1]} ms`,
    );
  }
  for (const k of input.killSnapshots) {
    row(
      `  jobs active at kill of ${k.worker} (queue / that worker)`,
      `${k.activeInQueue} / ${k.activeInKilledWorker}`,
    );
  }
  row(
    'jobs in the failed set (valid / hostile)',
    `${input.failed.valid} / ${input.failed.hostile}`,
    mark(input.failed.valid === 0),
  );
  row(
    'drain',
    input.drain.drained
      ? `${(input.drain.ms / 1000).toFixed(1)} s`
      : `timed out after ${(input.drain.ms / 1000).toFixed(1)} s`,
    mark(input.drain.drained),
  );
  const t = r.throughput;
  row(
    'throughput offered / outside faults (events/s)',
    `${t.offeredPerSec} / ${t.outsideFaultsPerSec}`,
  );
  for (const w of t.windows) row(`  during ${w.name} (${w.seconds} s)`, `${w.perSec} events/s`);
  row('  seconds of load with nothing reaching Kafka', t.zeroSeconds);
  const rss = Object.entries(input.peakRssKb).map(
    ([name, kb]) => `${name} ${Math.round(kb / 1024)}`,
  );
  for (let i = 0; i < rss.length; i += 4)
    row(i === 0 ? 'peak RSS (MiB)' : '', rss.slice(i, i + 4).join(', '));
  row(
    'unexpected process exits',
    input.unexpectedExits.length,
    mark(input.unexpectedExits.length === 0),
  );
  row(
    'processes not stopping on SIGTERM in time',
    (input.notGraceful ?? []).length,
    mark((input.notGraceful ?? []).length === 0),
  );
  row(
    'VERDICT',
    passed ? 'PASS' : 'FAIL',
    checks
      .filter((c) => !c.ok)
      .map((c) => c.name)
      .join(', '),
  );

  return { ...input, checks, passed, rows };
}

/** The table as text, fixed-width columns. */
export function formatTable(rows: Array<[string, string, string]>): string {
  const w0 = Math.max(...rows.map((r) => r[0].length), 6);
  const w1 = Math.max(...rows.map((r) => r[1].length), 5);
  const line = `+${'-'.repeat(w0 + 2)}+${'-'.repeat(w1 + 2)}+${'-'.repeat(24)}+`;
  const out = [
    line,
    `| ${'figure'.padEnd(w0)} | ${'value'.padEnd(w1)} | ${'check'.padEnd(22)} |`,
    line,
  ];
  for (const [a, b, c] of rows) out.push(`| ${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c.padEnd(22)} |`);
  out.push(line);
  return out.join('\n');
}
