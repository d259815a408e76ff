import { toError } from '../async.js';
import type { Logger } from '../logger.js';
import { SignalGate } from './signal-gate.js';

/**
 * Exit code after a second, separate shutdown signal (the operator insists; nothing more is
 * waited for). 130 whatever the signal: the shell's code for a process ended by Ctrl+C, the usual
 * way to insist, and one value for scripts and process managers to test. A graceful shutdown
 * exits 0, or 1 when something failed to close.
 */
export const FORCED_EXIT_CODE = 130;

/** How long one part may take to close before the log names it (and again after each period). */
const SLOW_RELEASE_MS = 5000;

/** Something to stop on shutdown: an object with `close()` or a named close function. */
export type Closeable = { close(): Promise<unknown> } | { name: string; close(): Promise<unknown> };

/**
 * What a process opened, to be released in the reverse order (last opened, first released): a
 * part is released before what it was built on, so a worker finishes its jobs before the
 * publisher it writes through is flushed, and both before their connections quit.
 */
export class Releasers {
  private readonly stack: Array<{ name: string; release: () => Promise<unknown> | unknown }> = [];

  constructor(private readonly logger?: Logger) {}

  /** Release `release` (named `name` in logs) before everything added earlier. */
  add(name: string, release: () => Promise<unknown> | unknown): void {
    this.stack.push({ name, release });
  }

  /** Number of parts still to release. */
  get size(): number {
    return this.stack.length;
  }

  /**
   * Release everything, last added first, each once. A part that fails to release is logged and
   * the others are still released. Resolves whether every part released cleanly.
   */
  async releaseAll(): Promise<boolean> {
    let clean = true;
    for (let part = this.stack.pop(); part; part = this.stack.pop()) {
      const started = Date.now();
      // A part that takes long is named while it is still closing, so that a shutdown that
      // hangs (and is ended by the process manager's kill) says where.
      const slow = setInterval(() => {
        this.logger?.warn(
          { part: part!.name, waitedMs: Date.now() - started },
          'still closing; a second signal exits at once',
        );
      }, SLOW_RELEASE_MS);
      slow.unref();
      try {
        await part.release();
        this.logger?.debug({ part: part.name, ms: Date.now() - started }, 'closed');
      } catch (err) {
        clean = false;
        this.logger?.warn({ err: toError(err), part: part.name }, 'error while closing');
      } finally {
        clearInterval(slow);
      }
    }
    return clean;
  }
}

/** Options of {@link onShutdownSignals}. */
export interface ShutdownSignalOptions {
  /** @defaultValue `['SIGTERM', 'SIGINT']` */
  signals?: NodeJS.Signals[];
  /**
   * Called once the shutdown ends: 0 (all closed), 1 (something failed to close) or
   * {@link FORCED_EXIT_CODE} (a second signal). @defaultValue `process.exit`
   */
  exit?: (code: number) => void;
  /** Signals within this many ms of the first are copies of it (see {@link SignalGate}). @defaultValue 1000 */
  sameDeliveryMs?: number;
}

/**
 * The one shutdown signal handler of every entry point. The first SIGTERM/SIGINT runs `stop`
 * (which resolves whether everything closed cleanly, or rejects) and then exits 0 or 1; a copy of
 * that signal delivered within `sameDeliveryMs` (process group plus a forwarding parent such as
 * npm) is ignored; a later, separate signal exits at once with {@link FORCED_EXIT_CODE}. Returns a
 * function that removes the handlers.
 */
export function onShutdownSignals(
  stop: () => Promise<boolean | void>,
  logger: Logger,
  options: ShutdownSignalOptions = {},
): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const gate = new SignalGate(
    options.sameDeliveryMs === undefined ? {} : { sameDeliveryMs: options.sameDeliveryMs },
  );
  const handler = (signal: NodeJS.Signals) => {
    const verdict = gate.receive();
    if (verdict === 'duplicate') {
      logger.debug({ signal }, 'same signal again (process group and parent): already stopping');
      return;
    }
    if (verdict === 'force') {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      exit(FORCED_EXIT_CODE);
      return;
    }
    logger.info(
      { signal },
      'shutting down gracefully: finishing active jobs, flushing, disconnecting',
    );
    stop().then(
      (clean) => {
        logger.info('shut down');
        exit(clean === false ? 1 : 0);
      },
      (err: unknown) => {
        logger.error({ err: toError(err) }, 'error during shutdown');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}

/** Options of {@link installShutdown}. */
export type InstallShutdownOptions = ShutdownSignalOptions;

/**
 * Close `closeables` in the order given on SIGTERM/SIGINT (workers first: they stop fetching and
 * finish active jobs; then publishers: they flush; then connections), through
 * {@link onShutdownSignals}: a copy of the first signal is ignored, a second, later one exits at
 * once with {@link FORCED_EXIT_CODE}. Returns a function that removes the handlers.
 */
export function installShutdown(
  closeables: Closeable[],
  logger: Logger,
  options: InstallShutdownOptions = {},
): () => void {
  const releasers = new Releasers(logger);
  // Releasers run last-added first: add in reverse so the given order is kept.
  for (const c of [...closeables].reverse()) {
    releasers.add('name' in c ? c.name : 'part', () => c.close());
  }
  return onShutdownSignals(() => releasers.releaseAll(), logger, options);
}
