import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';

/** The part of scripts/infra.mjs this class uses. */
interface InfraModule {
  infraUp(opts: Record<string, unknown>): Promise<{ redis?: { url: string } }>;
  infraDown(opts: Record<string, unknown>): Promise<unknown>;
  killRedisClusterNode(opts: Record<string, unknown>): Promise<number>;
  startRedisClusterNode(opts: Record<string, unknown>): Promise<number | undefined>;
}

/**
 * A private Redis Cluster (3 masters, 3 replicas, cluster-node-timeout 2 s) on six loopback
 * ports from `basePort` (cluster bus on port + 10000), its own run dir, started, killed node by
 * node and stopped through scripts/infra.mjs.
 */
export class PrivateRedisCluster {
  readonly runDir: string;
  private infra?: InfraModule;

  constructor(
    readonly basePort: number,
    private readonly log: (line: string) => void,
  ) {
    this.runDir = fs.mkdtempSync(path.join(os.tmpdir(), `dualstream-redis-cluster-${basePort}-`));
  }

  get ports(): number[] {
    return Array.from({ length: 6 }, (_, i) => this.basePort + i);
  }

  /** `redis+cluster://` URL naming every node. */
  get url(): string {
    return `redis+cluster://${this.ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  private opts(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      kafka: false,
      redisCluster: true,
      redisClusterPort: this.basePort,
      runDir: this.runDir,
      log: (line: string) => this.log(`[infra] ${line}`),
      ...extra,
    };
  }

  private async load(): Promise<InfraModule> {
    if (!this.infra) {
      const url = pathToFileURL(path.resolve(import.meta.dirname, '../../scripts/infra.mjs')).href;
      this.infra = (await import(url)) as InfraModule;
    }
    return this.infra;
  }

  async start(): Promise<void> {
    await (await this.load()).infraUp(this.opts());
  }

  /** The port of the master that serves the slot of `key` right now. */
  async masterOf(key: string): Promise<number> {
    for (const port of this.ports) {
      const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
      // A node that is down refuses: that is an answer here, not an error to print.
      r.on('error', () => undefined);
      try {
        await r.connect();
        const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key));
        const slots = (await r.call('CLUSTER', 'SLOTS')) as Array<
          [number, number, [string, number]]
        >;
        const owner = slots.find(([from, to]) => slot >= from && slot <= to);
        if (owner) return Number(owner[2][1]);
      } catch {
        // That node is down: ask the next one.
      } finally {
        r.disconnect();
      }
    }
    throw new Error(`no node answered for the slot of ${key}`);
  }

  /** Role (`master`/`slave`) of the node on `port`, as it says itself. */
  async role(port: number): Promise<string> {
    const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
    r.on('error', () => undefined);
    try {
      const res = (await r.call('ROLE')) as [string];
      return res[0];
    } finally {
      r.disconnect();
    }
  }

  /** kill -9 the node on `port`. */
  async kill(port: number): Promise<number> {
    return (await this.load()).killRedisClusterNode(this.opts({ port }));
  }

  /** Start the node on `port` again (it rejoins, as a replica when it was failed over). */
  async restart(port: number): Promise<void> {
    await (await this.load()).startRedisClusterNode(this.opts({ port }));
  }

  async destroy(): Promise<void> {
    await (await this.load()).infraDown(this.opts({ clean: true })).catch((err: unknown) => {
      this.log(`[infra] stopping the private Redis Cluster failed: ${String(err)}`);
    });
    fs.rmSync(this.runDir, { recursive: true, force: true });
  }
}

/** A base port with six free ports from it and their cluster bus ports (+10000) free too. */
export async function freeRedisClusterPorts(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const base = 33_000 + 8 * Math.floor(Math.random() * 500);
    let ok = true;
    for (let p = base; p < base + 6 && ok; p++)
      ok = (await canListen(p)) && (await canListen(p + 10_000));
    if (ok) return base;
  }
  throw new Error('no six free ports (and bus ports) in 33000-37000');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
