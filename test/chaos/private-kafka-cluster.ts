import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';

/** The part of scripts/infra.mjs this class uses. */
interface InfraModule {
  infraUp(opts: Record<string, unknown>): Promise<{
    kafka?: { startMs: number; nodes?: Array<{ id: number; address: string; pid?: number }> };
  }>;
  infraDown(opts: Record<string, unknown>): Promise<unknown>;
  killKafka(opts: Record<string, unknown>): Promise<{ pid: number; signal: string }>;
  startKafka(opts: Record<string, unknown>): Promise<{ pid?: number; startMs: number }>;
}

/** Who leads how many partitions of a topic, by node id. */
export interface LeaderCount {
  node: number;
  partitions: number;
}

/**
 * A private replicated KRaft cluster (3 combined broker+controller nodes by default) for fault
 * injection, on its own ports and run dir, started, killed node by node and restarted through
 * scripts/infra.mjs. Node i serves on `basePort + 2(i-1)`; node ids are 1..n, which are also the
 * Kafka broker ids.
 */
export class PrivateKafkaCluster {
  readonly runDir: string;
  readonly pids = new Map<number, number | undefined>();
  private infra?: InfraModule;

  constructor(
    readonly basePort: number,
    private readonly log: (line: string) => void,
    readonly nodes = 3,
  ) {
    this.runDir = fs.mkdtempSync(path.join(os.tmpdir(), `dualstream-kafka-cluster-${basePort}-`));
  }

  /** Client addresses of every node. */
  get brokers(): string[] {
    return Array.from({ length: this.nodes }, (_, i) => `127.0.0.1:${this.basePort + 2 * i}`);
  }

  get address(): string {
    return this.brokers.join(',');
  }

  private opts(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      kafkaNodes: this.nodes,
      clusterPort: this.basePort,
      runDir: this.runDir,
      redis: false,
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

  /** Start every node; resolves with the time until all served. */
  async start(): Promise<number> {
    const started = Date.now();
    const res = await (await this.load()).infraUp(this.opts());
    for (const n of res.kafka?.nodes ?? []) this.pids.set(n.id, n.pid);
    return Date.now() - started;
  }

  /** `kill -9` node `node` (its data dir is kept). */
  async kill(node: number): Promise<number> {
    const res = await (await this.load()).killKafka(this.opts({ node, signal: 'SIGKILL' }));
    this.pids.set(node, undefined);
    return res.pid;
  }

  /** Start node `node` again on its data dir; resolves with the time until it served. */
  async restart(node: number): Promise<number> {
    const started = Date.now();
    const res = await (await this.load()).startKafka(this.opts({ node }));
    this.pids.set(node, res.pid);
    return Date.now() - started;
  }

  /** Partitions of `topic` whose ISR is smaller than their replicas (a node down or behind). */
  async underReplicated(topic: string): Promise<number> {
    const partitions = await this.partitions(topic);
    return partitions.filter((p) => p.isr.length < p.replicas.length).length;
  }

  private async partitions(
    topic: string,
  ): Promise<Array<{ leader: number; replicas: number[]; isr: number[] }>> {
    const admin = new Kafka({
      clientId: 'cluster-inspect',
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      return meta.topics[0]?.partitions ?? [];
    } finally {
      await admin.disconnect();
    }
  }

  /** Partition leaders of `topic` per node, most first (nodes leading nothing included). */
  async leaders(topic: string): Promise<LeaderCount[]> {
    const count = new Map<number, number>();
    for (let id = 1; id <= this.nodes; id++) count.set(id, 0);
    for (const p of await this.partitions(topic)) {
      count.set(p.leader, (count.get(p.leader) ?? 0) + 1);
    }
    return [...count]
      .map(([node, partitions]) => ({ node, partitions }))
      .sort((a, b) => b.partitions - a.partitions || a.node - b.node);
  }

  /** Stop every node and remove the run dir (unless `keep`). */
  async destroy(keep = false): Promise<void> {
    await (await this.load()).infraDown(this.opts({ clean: !keep })).catch((err: unknown) => {
      this.log(`[infra] stopping the private cluster failed: ${String(err)}`);
    });
    if (!keep) fs.rmSync(this.runDir, { recursive: true, force: true });
  }
}

/** A base port with `2 * nodes` free ports from it (client and controller port per node). */
export async function freeClusterPorts(nodes = 3): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 6_000);
    let ok = true;
    for (let p = base; p < base + 2 * nodes && ok; p++) ok = await canListen(p);
    if (ok) return base;
  }
  throw new Error(`no ${2 * nodes} free ports in a row in 20000-32000`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
