// Latency of the publish pipeline as a new user meets it: a plain BullMQ app adds events at a
// fixed rate, one `dualstream worker` process publishes them, and a Redis subscriber times each
// add → id-only notification. A warm-up is run and discarded before each measurement.
//
// Used by `npm run bench` (rows "latency …"); on its own:
//   node --import tsx test/bench/latency.ts            # 100, 1000 and 5000 events/s
//   LATENCY_RATES=100 LATENCY_SECONDS=5 node --import tsx test/bench/latency.ts
import { percentile, startRig, type RigOptions } from './rig.js';

/** One latency measurement: add → notification at a fixed rate. */
export interface LatencyResult {
  rate: number;
  ordering: 'source' | 'none';
  client: 'kafkajs' | 'platformatic';
  /** Events whose notification arrived (measured window only). */
  measured: number;
  /** Events of the measured window whose notification did not arrive within 30 s. */
  missing: number;
  /** The rate the producer really reached (events/s). */
  achievedRate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LatencyOptions extends RigOptions {
  rate: number;
  /** Measured seconds (after the warm-up). @defaultValue 10 */
  seconds?: number;
  /** Discarded seconds at the start. @defaultValue 3 */
  warmupSeconds?: number;
  /** @defaultValue 100 */
  sources?: number;
}

/** Run one worker process, add at `rate` events/s, and time every notification. */
export async function measureLatency(options: LatencyOptions): Promise<LatencyResult> {
  const { rate } = options;
  const seconds = options.seconds ?? 10;
  const sources = options.sources ?? 100;
  const rig = await startRig({ ...options, name: 'lat' });
  try {
    await rig.addAtRate(rate, options.warmupSeconds ?? 3, sources, () => undefined);
    const latencies: number[] = [];
    const { added, addSeconds } = await rig.addAtRate(rate, seconds, sources, (_i, ms) =>
      latencies.push(ms),
    );
    const drainBy = Date.now() + 30_000;
    while (rig.pending() > 0 && Date.now() < drainBy) {
      await new Promise((r) => setTimeout(r, 50));
    }
    latencies.sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 10) / 10;
    return {
      rate,
      ordering: options.ordering,
      client: options.client ?? 'kafkajs',
      measured: latencies.length,
      missing: added - latencies.length,
      achievedRate: Math.round(added / addSeconds),
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies.at(-1) ?? Number.NaN),
    };
  } finally {
    await rig.close();
  }
}

async function main(): Promise<void> {
  const rates = (process.env.LATENCY_RATES ?? '100,1000,5000').split(',').map(Number);
  const seconds = Number(process.env.LATENCY_SECONDS ?? 10);
  const rows: LatencyResult[] = [];
  for (const rate of rates) {
    for (const ordering of ['source', 'none'] as const) {
      rows.push(await measureLatency({ rate, ordering, seconds }));
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  console.table(rows);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
