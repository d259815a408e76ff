// Vitest globalSetup: make sure a real Kafka broker and Redis answer before any test file runs.
// Already-running services are reused; a broker we start stays up after the run (fast local
// re-runs) unless DUALSTREAM_INFRA_STOP=1.
import { infraDown, infraUp } from '../scripts/infra.mjs';

const log = (line: string): void => console.log(`[infra] ${line}`);

export default async function setup(): Promise<() => Promise<void>> {
  // `npm run test:unit` needs no services (and `npm start` honours the same variable).
  if (process.env.DUALSTREAM_SKIP_INFRA === '1') return async () => undefined;
  const started = Date.now();
  // Progress lines only matter when something is being downloaded or started.
  const lines: string[] = [];
  const result = await infraUp({ log: (line) => lines.push(line) });
  const kafka = result.kafka;
  if (kafka && !kafka.reused) {
    for (const line of lines) log(line);
    log(
      `Kafka ${kafka.version ?? ''} started in ${(kafka.startMs / 1000).toFixed(1)} s` +
        (kafka.downloaded ? ` (+${(kafka.downloadMs / 1000).toFixed(1)} s resolving jars)` : ''),
    );
  } else {
    log(`Kafka ${kafka?.address ?? '?'} and Redis reused (${Date.now() - started} ms)`);
  }

  return async () => {
    if (process.env.DUALSTREAM_INFRA_STOP === '1') {
      await infraDown({ log });
    }
  };
}
