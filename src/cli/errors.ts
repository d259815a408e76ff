import { ConfigError } from '../errors.js';

/** A problem with how the command was called (bad flag value, missing file): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes of the CLI. */
export const EXIT = {
  ok: 0,
  /** Runtime failure, some input rejected, or a failed check. */
  failure: 1,
  /** Bad configuration or usage. */
  usage: 2,
} as const;

/**
 * Print an error the way an operator wants to read it: the message only, never a stack trace
 * (set `DUALSTREAM_DEBUG=1` to see one), and return the exit code.
 */
export function reportError(
  err: unknown,
  write: (s: string) => void = (s) => process.stderr.write(s),
): number {
  const debug = process.env.DUALSTREAM_DEBUG === '1';
  if (err instanceof ConfigError || err instanceof UsageError) {
    write(`dualstream: ${err.message}\n`);
    return EXIT.usage;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`dualstream: ${message}\n`);
  if (debug && err instanceof Error && err.stack) write(`${err.stack}\n`);
  return EXIT.failure;
}

/** Wrap a command action so that any error ends in {@link reportError} and its exit code. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number' && code !== 0) process.exitCode = code;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}
