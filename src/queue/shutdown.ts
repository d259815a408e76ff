import type { Logger } from '../logger.js';
import { SignalGate } from './signal-gate.js';

/** Something to stop on shutdown: an object with `close()` or a named close function. */
export type Closeable = { close(): Promise<unknown> } | { name: string; close(): Promise<unknown> };

/** Options of {@link installShutdown}. */
export interface InstallShutdownOptions {
  /** @defaultValue `['SIGTERM', 'SIGINT']` */
  signals?: NodeJS.Signals[];
  /** Called after everything closed (0) or on a second signal / a close error (1). @defaultValue `process.exit` */
  exit?: (code: number) => void;
  /** Signals within this many ms of the first are copies of it (see {@link SignalGate}). @defaultValue 1000 */
  sameDeliveryMs?: number;
}

/**
 * Close `closeables` in order on SIGTERM/SIGINT (workers first: they stop fetching and finish
 * active jobs; then publishers: they flush; then connections). A second, later signal exits at
 * once; a copy of the first one (process group + forwarding parent) does not count as a second.
 * Returns a function that removes the handlers.
 */
export function installShutdown(
  closeables: Closeable[],
  logger: Logger,
  options: InstallShutdownOptions = {},
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
      exit(1);
      return;
    }
    logger.info({ signal }, 'shutting down: finishing active jobs, flushing, disconnecting');
    void (async () => {
      let code = 0;
      for (const c of closeables) {
        try {
          await c.close();
        } catch (err) {
          code = 1;
          logger.error({ err, part: 'name' in c ? c.name : undefined }, 'error while closing');
        }
      }
      logger.info('shut down');
      exit(code);
    })();
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
