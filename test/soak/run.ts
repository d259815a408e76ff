// Soak: one `dualstream start` process (worker and the real-time edge, ORDERING=source) under a
// steady 1,000 events/s from a plain BullMQ app for 10 minutes, with 50 subscribers of the edge
// (the typed `subscribe()` client over SSE, one source each). Per minute: the process's RSS and
// event-loop lag (p99, from its /metrics), Redis' used memory, add → Pub/Sub notification and
// add → edge subscriber percentiles of the events added in that minute, and what the subscribers
// got (every seq of their source in order, or an explicit reset). Then the slope of each series (least squares, first minute left out as warm-up) and
// whether it is flat within noise. Writes JSON to test-artifacts/.
//
//   npm run soak                                   # 10 minutes at 1,000 events/s
//   SOAK_MINUTES=2 SOAK_RATE=500 npm run soak      # shorter
//
// Completed jobs are kept for de-duplication (KEEP_COMPLETED_*), so Redis grows until that window
// is full; the soak caps it at SOAK_KEEP_COMPLETED (default 20,000 jobs, 20 s at 1,000/s) so that
// the steady state is what is measured. With the default window (24 h or 1,000,000 jobs) Redis
// grows by the size of that many jobs first (see docs/performance.md).
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { subscribe, type Subscription } from '../../src/realtime/index.js';
import { percentile, REDIS_URL, startRig } from '../bench/rig.js';
import { trend } from './trend.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const SOURCES = Number(process.env.SOAK_SOURCES ?? 100);
const KEEP = process.env.SOAK_KEEP_COMPLETED ?? '20000';
const SUBSCRIBERS = Number(process.env.SOAK_SUBSCRIBERS ?? 50);

interface Minute {
  minute: number;
  added: number;
  arrived: number;
  p50: number;
  p99: number;
  /** Add → edge subscriber (SSE) of the events of followed sources added this minute. */
  edgeP50: number;
  edgeP99: number;
  rssMiB: number;
  loopLagP99Ms: number;
  redisMiB: number;
}

async function scrape(
  url: string,
  authorization: string,
): Promise<{ rss: number; lagP99: number }> {
  const text = await (await fetch(url, { headers: { authorization } })).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    rss: value('dualstream_process_resident_memory_bytes'),
    lagP99: value('dualstream_nodejs_eventloop_lag_p99_seconds'),
  };
}

async function main(): Promise<void> {
  console.log(
    `soak: ${MINUTES} min at ${RATE} events/s over ${SOURCES} sources, ORDERING=source, ` +
      `KEEP_COMPLETED_COUNT=${KEEP}`,
  );
  const rig = await startRig({
    ordering: 'source',
    command: 'start',
    name: 'soak',
    env: { KEEP_COMPLETED_COUNT: KEEP },
  });
  const server = rig.server!;
  const redis = new Redis(REDIS_URL);
  const minutes: Minute[] = [];
  // Edge subscribers: one source each. Every event of a followed source is timed to the edge.
  const followed = new Map<string, { t0: number; minute: number }>();
  const edgeLatency: number[][] = [];
  const edge = { delivered: 0, outOfOrder: 0, resets: 0, errors: 0 };
  const lastSeq = new Map<string, number>();
  const subscriptions: Subscription[] = [];
  let minute = 0;
  for (let i = 0; i < Math.min(SUBSCRIBERS, SOURCES); i += 1) {
    subscriptions.push(
      subscribe({
        url: server.url,
        channels: [`rig:s-${i}`],
        headers: { authorization: server.authorization },
        onMessage: (n) => {
          const now = performance.now();
          edge.delivered += 1;
          const prev = lastSeq.get(n.source_id) ?? 0;
          if (n.seq !== undefined) {
            if (prev !== 0 && n.seq !== prev + 1) edge.outOfOrder += 1;
            lastSeq.set(n.source_id, n.seq);
          }
          const sent = followed.get(n.id);
          if (sent) {
            followed.delete(n.id);
            edgeLatency[sent.minute]?.push(now - sent.t0);
          }
        },
        onReset: () => (edge.resets += 1),
        onError: () => (edge.errors += 1),
      }),
    );
  }
  const onAdd = (id: string, sourceId: string, t0: number) => {
    if (Number(sourceId.slice(2)) < SUBSCRIBERS) followed.set(id, { t0, minute });
  };
  // A fresh subscription starts at the newest retained event: an event added before it opened
  // is not owed to it. So the load starts once every subscriber holds its first token.
  const openBy = Date.now() + 30_000;
  while (subscriptions.some((s) => s.token === undefined) && Date.now() < openBy) {
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    const perMinute: number[][] = [];
    for (let m = 0; m < MINUTES; m += 1) {
      minute = m;
      const lat: number[] = [];
      perMinute.push(lat);
      edgeLatency.push([]);
      const { added } = await rig.addAtRate(RATE, 60, SOURCES, (_i, ms) => lat.push(ms), onAdd);
      const { rss, lagP99 } = await scrape(rig.metricsUrl!, server.authorization);
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? Number.NaN);
      minutes.push({
        minute: m + 1,
        added,
        arrived: lat.length,
        p50: Number.NaN,
        p99: Number.NaN,
        edgeP50: Number.NaN,
        edgeP99: Number.NaN,
        rssMiB: Math.round((rss / 2 ** 20) * 10) / 10,
        loopLagP99Ms: Math.round(lagP99 * 1e4) / 10,
        redisMiB: Math.round((used / 2 ** 20) * 10) / 10,
      });
      const row = minutes.at(-1)!;
      console.log(
        `  minute ${row.minute}: RSS ${row.rssMiB} MiB, loop lag p99 ${row.loopLagP99Ms} ms, ` +
          `Redis ${row.redisMiB} MiB, notified so far ${lat.length}/${added}`,
      );
    }
    const drainBy = Date.now() + 30_000;
    while (rig.pending() > 0 && Date.now() < drainBy) await new Promise((r) => setTimeout(r, 100));
    while (followed.size > 0 && Date.now() < drainBy) await new Promise((r) => setTimeout(r, 100));
    const round = (n: number) => Math.round(n * 10) / 10;
    minutes.forEach((row, i) => {
      const lat = perMinute[i]!.sort((a, b) => a - b);
      const viaEdge = edgeLatency[i]!.sort((a, b) => a - b);
      row.arrived = lat.length;
      row.p50 = round(percentile(lat, 50));
      row.p99 = round(percentile(lat, 99));
      row.edgeP50 = round(percentile(viaEdge, 50));
      row.edgeP99 = round(percentile(viaEdge, 99));
    });
  } finally {
    for (const s of subscriptions) s.close();
    await redis.quit();
    await rig.close();
  }

  console.log('');
  console.log(
    '| minute | added | notified | p50 ms | p99 ms | edge p50 ms | edge p99 ms | RSS MiB | loop lag p99 ms | Redis MiB |',
  );
  console.log(
    '|--------|-------|----------|--------|--------|-------------|-------------|---------|-----------------|-----------|',
  );
  for (const r of minutes) {
    const cells = [
      r.added,
      r.arrived,
      r.p50,
      r.p99,
      r.edgeP50,
      r.edgeP99,
      r.rssMiB,
      r.loopLagP99Ms,
      r.redisMiB,
    ];
    console.log(
      `| ${String(r.minute).padStart(6)} | ${cells.map((c) => String(c).padStart(5)).join(' | ')} |`,
    );
  }
  const steady = minutes.slice(1);
  const series = {
    rssMiB: trend(steady.map((r) => r.rssMiB)),
    loopLagP99Ms: trend(steady.map((r) => r.loopLagP99Ms)),
    redisMiB: trend(steady.map((r) => r.redisMiB)),
    p99: trend(steady.map((r) => r.p99)),
  };
  console.log('');
  for (const [name, t] of Object.entries(series)) {
    console.log(
      Number.isNaN(t.slopePerMinute)
        ? `slope ${name}: too few minutes for a slope (3 after the first are needed)`
        : `slope ${name}: ${t.slopePerMinute.toFixed(3)}/min (${t.changePct.toFixed(1)}% over the run) ${t.flat ? 'FLAT' : 'NOT FLAT'}`,
    );
  }
  const lost = minutes.reduce((a, r) => a + r.added - r.arrived, 0);
  console.log(`notifications missing: ${lost}`);
  console.log(
    `edge: ${subscriptions.length} subscribers, ${edge.delivered} deliveries, ${followed.size} ` +
      `events of followed sources never delivered, ${edge.outOfOrder} out of seq order, ` +
      `${edge.resets} resets, ${edge.errors} connection errors`,
  );
  mkdirSync('test-artifacts', { recursive: true });
  const file = `test-artifacts/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    `${JSON.stringify({ minutes: MINUTES, rate: RATE, sources: SOURCES, subscribers: subscriptions.length, keepCompleted: KEEP, rows: minutes, series, lost, edge: { ...edge, undelivered: followed.size } }, null, 2)}\n`,
  );
  console.log(`JSON: ${file}`);
  const flat = Object.values(series).every((t) => t.flat);
  const edgeOk = followed.size === 0 && edge.outOfOrder === 0;
  const pass = flat && lost === 0 && edgeOk;
  console.log(
    `verdict: ${pass ? 'PASS' : 'FAIL'} (every series flat within noise, no notification missing, ` +
      'every subscriber got every event of its source in seq order)',
  );
  if (!pass) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
