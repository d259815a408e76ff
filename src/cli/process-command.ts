import { Command } from 'commander';
import type { DualstreamConfig } from '../config/index.js';
import { action } from './errors.js';
import { addConfigFlags, configFrom, type FlagGroup } from './options.js';
import type { Parts, Running } from './runtime.js';

/** Starts the chosen parts and installs the shutdown signal handler for them. */
export type StartParts = (config: DualstreamConfig, parts: Parts) => Promise<Running>;

/** What one long-running subcommand (`start`, `worker`, `ingest`, `board`) is made of. */
export interface ProcessCommandSpec {
  name: string;
  description: string;
  /** Flag groups of the command; the config is read from them and the environment. */
  groups: readonly FlagGroup[];
  /** Add the command's own options (before the config flags in `--help`). */
  configure?: (cmd: Command) => void;
  /** Start the process with `start` and say what runs. */
  run: (
    config: DualstreamConfig,
    opts: Record<string, unknown>,
    start: StartParts,
  ) => Promise<void>;
}

/**
 * A subcommand that runs parts of dualstream until a shutdown signal. The runtime (Kafka, BullMQ)
 * is loaded on use, so `--help` and flag errors answer without it; every such command stops
 * through the one shutdown handler.
 */
export function processCommand(spec: ProcessCommandSpec): Command {
  const cmd = new Command(spec.name).description(spec.description);
  spec.configure?.(cmd);
  addConfigFlags(cmd, ...spec.groups);
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const { onShutdownSignal, runParts } = await import('./runtime.js');
      await spec.run(configFrom(opts, ...spec.groups), opts, async (config, parts) => {
        const running = await runParts(config, parts);
        onShutdownSignal(running);
        return running;
      });
    }),
  );
  return cmd;
}

/** Log the start-up line of a `worker`/`ingest` process, with its metrics URL when it has one. */
export function logRunning(running: Running, what: string): void {
  if (running.metricsUrl) {
    running.logger.info(
      { metricsUrl: running.metricsUrl },
      `${what}; metrics at ${running.metricsUrl}`,
    );
  } else {
    running.logger.info(what);
  }
}
