import { readFileSync } from 'node:fs';
import type { ChainableCommander, Redis } from 'ioredis';

/** One Lua script, read from disk, with its key count and the command name it is defined as. */
export interface LoadedScript {
  command: string;
  lua: string;
  numberOfKeys: number;
}

type ScriptTarget = Redis | ChainableCommander;

/**
 * A set of Lua scripts that live in one folder next to the module that owns them. The file name
 * carries the key count (`acquire-3.lua` takes 3 keys), as BullMQ's scripts do. A line
 * `--- @include "name"` is replaced by `includes/name.lua` of the same folder. Files are read at
 * runtime relative to the folder URL, so the same code works from `src/` (tsx, vitest) and from
 * `dist/` once the build copies the folder.
 */
export class ScriptSet<Name extends string> {
  private loaded: Record<Name, LoadedScript> | undefined;
  private readonly defined = new WeakSet<object>();

  /**
   * @param folder - URL of the folder that holds the `.lua` files
   * @param files - script name to file name
   * @param commandPrefix - prefix of the ioredis command names, so none shadows a built-in method
   */
  constructor(
    private readonly folder: URL,
    private readonly files: Record<Name, string>,
    private readonly commandPrefix: string,
  ) {}

  /** Read (once) and return every script. */
  load(): Record<Name, LoadedScript> {
    if (this.loaded) return this.loaded;
    const out = {} as Record<Name, LoadedScript>;
    for (const [name, file] of Object.entries(this.files) as Array<[Name, string]>) {
      const keys = /-(\d+)\.lua$/.exec(file);
      out[name] = {
        command: `${this.commandPrefix}_${name}`,
        lua: this.read(file),
        numberOfKeys: Number(keys?.[1] ?? 0),
      };
    }
    this.loaded = out;
    return out;
  }

  /** Register the scripts on a connection (EVALSHA with automatic EVAL fallback, pipelines too). */
  define(redis: Redis): void {
    if (this.defined.has(redis)) return;
    for (const s of Object.values<LoadedScript>(this.load())) {
      redis.defineCommand(s.command, { lua: s.lua, numberOfKeys: s.numberOfKeys });
    }
    this.defined.add(redis);
  }

  /**
   * Run a script on a connection (returns its result) or queue it on a pipeline (the result
   * arrives with `exec()`). The connection must have gone through {@link ScriptSet.define}.
   */
  run(
    target: ScriptTarget,
    name: Name,
    keys: string[],
    args: Array<string | number>,
  ): Promise<unknown> {
    const script = this.load()[name];
    // defineCommand adds methods that ioredis' static types cannot know about.
    const fn = (
      target as unknown as Record<string, (...a: Array<string | number>) => Promise<unknown>>
    )[script.command];
    if (typeof fn !== 'function') {
      throw new Error(`Script ${name} is not defined on this connection`);
    }
    return fn.call(target, ...keys, ...args);
  }

  private read(file: string): string {
    const text = readFileSync(new URL(file, this.folder), 'utf8');
    return text.replace(/^--- @include "([\w-]+)"$/gm, (_, include: string) =>
      readFileSync(new URL(`includes/${include}.lua`, this.folder), 'utf8'),
    );
  }
}
