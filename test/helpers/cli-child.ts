// A `dualstream` command as a child process in its own process group, for tests that need the
// product running as users run it (the Prometheus tests scrape it): output collected as it
// arrives, helpers to find the URLs it prints, and a stop that always takes the whole group.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './pipeline-kit.js';

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A running `dualstream <args>`. */
export interface CliChild {
  readonly name: string;
  readonly process: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<number | null>;
  /** Signal the whole process group; resolves with the exit code (null when killed). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Start `dualstream <args>` with a clean environment plus `env`, in a new process group. */
export function startCliChild(name: string, args: string[], env: Record<string, string>): CliChild {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is already gone.
    }
  };
  return {
    name,
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 20_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        signalGroup('SIGKILL');
        return child.exitCode;
      }
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
        // Anything the command left in its group goes with it.
        signalGroup('SIGKILL');
      }
    },
  };
}

/** Wait until `pattern` matches the child's stdout; returns the first capture group. */
export async function waitForOutput(
  child: CliChild,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<string> {
  let found: string | undefined;
  await waitFor(
    () => {
      if (child.process.exitCode !== null) {
        throw new Error(
          `${child.name} exited early (${child.process.exitCode}): ${child.stderr()}`,
        );
      }
      found = pattern.exec(child.stdout())?.[1];
      return found !== undefined;
    },
    timeoutMs,
    `${child.name} to print ${String(pattern)} (stderr: ${child.stderr().slice(-1000)})`,
  );
  return found!;
}

/** `dualstream start`: the base URL from its banner (`Bull Board: <url>/admin/queues`). */
export const startUrlOf = (child: CliChild): Promise<string> =>
  waitForOutput(child, /Bull Board: +(http:\/\/\S+)\/admin\/queues/);

/** `dualstream worker|ingest --metrics-port`: the metrics URL from its pino start-up line. */
export const metricsUrlOf = (child: CliChild): Promise<string> =>
  waitForOutput(child, /"metricsUrl":"(http:\/\/[^"]+)"/);
