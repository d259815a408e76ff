// The short chaos run inside `npm test`: the same scenario as `npm run chaos` (test/chaos), with
// shorter faults and lighter load, so that CI keeps the no-loss guarantees honest. It starts its
// own private Kafka broker and Pub/Sub Redis (it kills them), and real `dualstream` processes.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChaosLog } from '../chaos/log.js';
import { chaosOptionsFromEnv } from '../chaos/options.js';
import { formatTable } from '../chaos/report.js';
import { runChaos } from '../chaos/scenario.js';

describe('chaos (short)', () => {
  it('loses nothing, leaks nothing, keeps per-source order and seq, and explains every duplicate under kills of Kafka, Pub/Sub Redis, a worker and ingesters', async () => {
    const options = chaosOptionsFromEnv(process.env, { short: true });
    const report = await runChaos(options, new ChaosLog());
    const file = path.resolve(
      options.artifactsDir,
      `chaos-short-${report.startedAt.replace(/[:.]/g, '-')}.json`,
    );
    fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`${formatTable(report.rows)}\nreport: ${file}`);

    const r = report.result;
    expect(r.accepted, 'the load must have been accepted at all').toBeGreaterThan(0);
    expect(r.perEntry.stream.accepted, 'stream entries offered').toBeGreaterThan(0);
    expect(
      { lost: r.lost, first: r.lostIds.slice(0, 5) },
      `failed valid jobs: ${report.failed.samples.join(' | ') || 'none'}`,
    ).toEqual({ lost: 0, first: [] });
    expect({ leaked: r.leaked.total, samples: r.leaked.samples }).toEqual({
      leaked: 0,
      samples: [],
    });
    expect(
      r.duplicates.samples.filter((d) => !d.explained),
      'duplicates not explained by a worker kill',
    ).toEqual([]);
    const bound = report.killSnapshots.reduce((a, k) => a + k.activeInKilledWorker, 0);
    expect(r.duplicates.explained).toBeLessThanOrEqual(bound);
    for (const entry of ['bullmq', 'http', 'stream'] as const) {
      expect(report.hostile[entry].samples, `hostile ${entry} inputs not rejected`).toEqual([]);
      expect(report.hostile[entry].rejected).toBe(report.hostile[entry].tried);
    }
    expect(report.failed.samples, 'valid jobs in the failed set').toEqual([]);
    expect(report.drain.drained, report.drain.detail).toBe(true);
    expect(r.order.sources, 'sources checked for order').toBeGreaterThan(0);
    expect(
      { inversions: r.order.inversions, seqGaps: r.order.seqGaps, examples: r.order.examples },
      'per-source order and source-seq',
    ).toEqual({ inversions: 0, seqGaps: 0, examples: [] });
    expect(report.unexpectedExits).toEqual([]);
    expect(report.passed).toBe(true);
  }, 420_000);
});
