// Vitest globalSetup: make sure a real Kafka broker and Redis answer before any test file runs.
// Already-running services are reused; a broker we start stays up after the run (fast local
// re-runs) unless DUALSTREAM_INFRA_STOP=1.
import type { TestProject } from 'vitest/node';
import { infraDown, infraUp } from '../scripts/infra.mjs';
import { ensureDebianBinary } from '../scripts/provision.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the browser for test/integration/browser-board.test.ts, or why there is none. */
    chromium: { path: string } | { error: string };
  }
}

/**
 * The browser test needs a Chromium. Provision it here, in the main process before any test
 * runs, so that a one-time apt-get install (a minute or two) is not cut short by a hook timeout.
 * A failure is handed to the browser test, which fails with the exact command to run; the other
 * test files are not held hostage by it.
 */
function provisionChromium(): { path: string } | { error: string } {
  const configured = process.env.CHROMIUM_PATH;
  if (configured) return { path: configured };
  try {
    return { path: ensureDebianBinary({ binary: '/usr/bin/chromium', pkg: 'chromium', log }) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const log = (line: string): void => console.log(`[infra] ${line}`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // `npm run test:unit` needs no services (and `npm start` honours the same variable).
  if (process.env.DUALSTREAM_SKIP_INFRA === '1') return async () => undefined;
  project.provide('chromium', provisionChromium());
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
