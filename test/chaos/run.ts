// `npm run chaos`: the full chaos scenario (CHAOS_SHORT=1 for the short one). Prints the table,
// writes test-artifacts/chaos-<ts>.json, exits non-zero when anything was lost, leaked or left
// unexplained. See test/chaos/README.md.
import fs from 'node:fs';
import path from 'node:path';
import { ChaosLog } from './log.js';
import { chaosOptionsFromEnv } from './options.js';
import { formatTable } from './report.js';
import { runChaos } from './scenario.js';

// `npm run chaos -- --cluster` (or CHAOS_CLUSTER=1): the same scenario on a 3-node Kafka cluster
// and a 3+3 Redis Cluster (README.md, "On clusters").
const options = chaosOptionsFromEnv(
  process.env,
  process.argv.includes('--cluster') ? { cluster: true } : {},
);
const log = new ChaosLog();
try {
  const report = await runChaos(options, log);
  console.log(`\n${formatTable(report.rows)}`);
  for (const c of report.checks.filter((x) => !x.ok)) console.log(`FAILED ${c.name}: ${c.detail}`);
  if (report.result.lostIds.length)
    console.log(`lost (first ${report.result.lostIds.length}):`, report.result.lostIds);
  for (const d of report.result.duplicates.samples.filter((x) => !x.explained))
    console.log(`unexplained duplicate ${d.id} x${d.copies}: ${d.why}`);
  for (const s of report.result.leaked.samples) console.log(`leaked: ${s}`);
  for (const s of report.result.order.examples) console.log(`order: ${s}`);
  for (const e of ['bullmq', 'http', 'stream'] as const) {
    for (const s of report.hostile[e].samples) console.log(`hostile ${e} not rejected: ${s}`);
  }
  for (const s of report.failed.samples) console.log(`failed valid job: ${s}`);
  const file = path.resolve(
    options.artifactsDir,
    `chaos-${options.cluster ? 'cluster-' : ''}${report.startedAt.replace(/[:.]/g, '-')}.json`,
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nreport: ${file}\nchild logs: ${report.logDir}`);
  process.exitCode = report.passed ? 0 : 1;
} catch (err) {
  log.warn(`chaos run aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 2;
}
