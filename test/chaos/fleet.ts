import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManagedProcess } from './managed-process.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO_ROOT, 'src/cli/index.ts');

/** Everything a child process needs to join the run. */
export interface FleetConfig {
  runId: string;
  env: Record<string, string>;
  logDir: string;
}

/**
 * The product's processes under test, each a real `dualstream <command>` child process started
 * from the TypeScript sources (`node --import tsx src/cli/index.ts ...`): publish workers,
 * ingesters and the HTTP board. Every incarnation gets a new name (`worker-3` replaces a killed
 * `worker-1`), so logs and RSS figures stay apart.
 */
export class Fleet {
  readonly all: ManagedProcess[] = [];
  private counters = new Map<string, number>();

  constructor(private readonly config: FleetConfig) {}

  spawn(
    command: 'worker' | 'ingest' | 'board',
    extraEnv: Record<string, string> = {},
  ): ManagedProcess {
    const n = (this.counters.get(command) ?? 0) + 1;
    this.counters.set(command, n);
    const proc = new ManagedProcess({
      name: `${command}-${n}`,
      role: command,
      command: process.execPath,
      args: ['--import', 'tsx', CLI, command],
      env: { ...process.env, ...this.config.env, ...extraEnv },
      cwd: REPO_ROOT,
      logDir: this.config.logDir,
    });
    this.all.push(proc.start());
    return proc;
  }

  alive(role: string): ManagedProcess[] {
    return this.all.filter((p) => p.role === role && p.alive);
  }

  sample(): void {
    for (const p of this.all) p.sample();
  }

  /** Processes that ended without the suite killing or stopping them. */
  unexpectedExits(killed: Set<ManagedProcess>): ManagedProcess[] {
    return this.all.filter((p) => p.exit !== undefined && !killed.has(p));
  }

  async terminateAll(graceMs = 20_000): Promise<void> {
    await Promise.all(this.all.map((p) => p.terminate(graceMs)));
    await Promise.all(this.all.map((p) => p.closeLog()));
  }
}

/** Wait until a log line of `proc` matches, or fail after `timeoutMs`. */
export async function waitForLog(
  proc: ManagedProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<void> {
  const fs = await import('node:fs');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.alive) {
      throw new Error(
        `${proc.name} exited during start-up (${JSON.stringify(proc.exit)}); see ${proc.logFile}`,
      );
    }
    try {
      if (pattern.test(fs.readFileSync(proc.logFile, 'utf8'))) return;
    } catch {
      // No log yet.
    }
    await sleep(200);
  }
  throw new Error(
    `${proc.name} did not log ${pattern} within ${timeoutMs} ms; see ${proc.logFile}`,
  );
}
