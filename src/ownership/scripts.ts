import type { ChainableCommander, Redis } from 'ioredis';
import { ScriptSet, type LoadedScript } from '../redis-scripts.js';

/**
 * The Lua scripts of stream ownership, in `scripts/*.lua` next to this module (the build copies
 * the folder to `dist/ownership/scripts`). The file name carries the key count.
 */
export const SCRIPT_FILES = {
  acquire: 'acquire-3.lua',
  extend: 'extend-2.lua',
  release: 'release-2.lua',
  doneStream: 'done-stream-3.lua',
  ack: 'ack-2.lua',
  takeover: 'takeover-2.lua',
} as const;

/** Name of one ownership script. */
export type ScriptName = keyof typeof SCRIPT_FILES;

const scripts = new ScriptSet<ScriptName>(
  new URL('./scripts/', import.meta.url),
  SCRIPT_FILES,
  'dsOwnership',
);

/** Read (once) and return every script with its key count parsed from the file name. */
export function loadScripts(): Record<ScriptName, LoadedScript> {
  return scripts.load();
}

/** Register the scripts on a connection (EVALSHA with automatic EVAL fallback, pipelines too). */
export function defineScripts(redis: Redis): void {
  scripts.define(redis);
}

/**
 * Run an ownership script on a connection (returns its result) or queue it on a pipeline (the
 * result arrives with `exec()`). The connection must have gone through {@link defineScripts}.
 */
export function runScript(
  target: Redis | ChainableCommander,
  name: ScriptName,
  keys: string[],
  args: Array<string | number>,
): Promise<unknown> {
  return scripts.run(target, name, keys, args);
}
