import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';

/**
 * The Lua scripts of stream ownership, loaded from `scripts/*.lua` next to this module. The file
 * name carries the key count (`acquire-3.lua` takes 3 keys). They are read at runtime relative to
 * `import.meta.url`, so the same code works from `src/` (tsx, vitest) and from `dist/` once the
 * build copies `src/ownership/scripts` to `dist/ownership/scripts`.
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

interface LoadedScript {
  command: string;
  lua: string;
  numberOfKeys: number;
}

let loaded: Record<ScriptName, LoadedScript> | undefined;

/** Read (once) and return every script with its key count parsed from the file name. */
export function loadScripts(): Record<ScriptName, LoadedScript> {
  if (loaded) return loaded;
  const out = {} as Record<ScriptName, LoadedScript>;
  for (const [name, file] of Object.entries(SCRIPT_FILES) as Array<[ScriptName, string]>) {
    const keys = /-(\d+)\.lua$/.exec(file);
    out[name] = {
      // Prefixed so the command cannot shadow a built-in ioredis method.
      command: `dsOwnership_${name}`,
      lua: readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8'),
      numberOfKeys: Number(keys?.[1] ?? 0),
    };
  }
  loaded = out;
  return out;
}

const defined = new WeakSet<Redis>();

/** Register the scripts on a connection (EVALSHA with automatic EVAL fallback, pipelines too). */
export function defineScripts(redis: Redis): void {
  if (defined.has(redis)) return;
  for (const s of Object.values(loadScripts())) {
    redis.defineCommand(s.command, { lua: s.lua, numberOfKeys: s.numberOfKeys });
  }
  defined.add(redis);
}

type ScriptTarget = Redis | ChainableCommander;

/**
 * Run an ownership script on a connection (returns its result) or queue it on a pipeline (the
 * result arrives with `exec()`). The connection must have gone through {@link defineScripts}.
 */
export function runScript(
  target: ScriptTarget,
  name: ScriptName,
  keys: string[],
  args: Array<string | number>,
): Promise<unknown> {
  const script = loadScripts()[name];
  // defineCommand adds methods that ioredis' static types cannot know about.
  const fn = (
    target as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>
  )[script.command];
  if (typeof fn !== 'function') {
    throw new Error(`Ownership script ${name} is not defined on this connection`);
  }
  return fn.call(target, ...keys, ...args);
}
