// Soak: one `dualstream worker` process (ORDERING=source) under a steady 1,000 events/s from a
// plain BullMQ app for 10 minutes. Per minute: the worker's RSS and event-loop lag (p99, from its
// /metrics), Redis' used memory, and add → notification percentiles of the events added in that
// minute. Then the slope of each series (least squares, first minute left out as warm-up) and
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
import { percentile, REDIS_URL, startRig } from '../bench/rig.js';
import { trend } from './trend.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const SOURCES = Number(process.env.SOAK_SOURCES ?? 100);
const KEEP = process.env.SOAK_KEEP_COMPLETED ?? '20000';

interface Minute {
  minute: number;
  added: number;
  arrived: number;
  p50: number;
  p99: number;
  rssMiB: number;
  loopLagP99Ms: number;
  redisMiB: number;
}

async function scrape(url: string): Promise<{ rss: number; lagP99: number }> {
  const text = await (await fetch(url)).text();
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
    metrics: true,
    name: 'soak',
    env: { KEEP_COMPLETED_COUNT: KEEP },
  });
  const redis = new Redis(REDIS_URL);
  const minutes: Minute[] = [];
  try {
    const perMinute: number[][] = [];
    for (let m = 0; m < MINUTES; m += 1) {
      const lat: number[] = [];
      perMinute.push(lat);
      const { added } = await rig.addAtRate(RATE, 60, SOURCES, (_i, ms) => lat.push(ms));
      const { rss, lagP99 } = await scrape(rig.metricsUrl!);
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? Number.NaN);
      minutes.push({
        minute: m + 1,
        added,
        arrived: lat.length,
        p50: Number.NaN,
        p99: Number.NaN,
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
    minutes.forEach((row, i) => {
      const lat = perMinute[i]!.sort((a, b) => a - b);
      row.arrived = lat.length;
      row.p50 = Math.round(percentile(lat, 50) * 10) / 10;
      row.p99 = Math.round(percentile(lat, 99) * 10) / 10;
    });
  } finally {
    await redis.quit();
    await rig.close();
  }

  console.log('');
  console.log(
    '| minute | added | notified | p50 ms | p99 ms | RSS MiB | loop lag p99 ms | Redis MiB |',
  );
  console.log(
    '|--------|-------|----------|--------|--------|---------|-----------------|-----------|',
  );
  for (const r of minutes) {
    const cells = [r.added, r.arrived, r.p50, r.p99, r.rssMiB, r.loopLagP99Ms, r.redisMiB];
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
  mkdirSync('test-artifacts', { recursive: true });
  const file = `test-artifacts/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(
    file,
    `${JSON.stringify({ minutes: MINUTES, rate: RATE, sources: SOURCES, keepCompleted: KEEP, rows: minutes, series, lost }, null, 2)}\n`,
  );
  console.log(`JSON: ${file}`);
  const flat = Object.values(series).every((t) => t.flat);
  console.log(
    `verdict: ${flat && lost === 0 ? 'PASS' : 'FAIL'} (every series flat within noise, no notification missing)`,
  );
  if (!flat || lost > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
