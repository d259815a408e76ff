import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The part of scripts/infra.mjs the suite uses (typed here so the suite does not depend on
 * the shape of its declaration file). */
interface InfraModule {
  infraUp(
    opts: Record<string, unknown>,
  ): Promise<{ kafka?: { pid?: number; address: string; startMs: number } }>;
  infraDown(opts: Record<string, unknown>): Promise<unknown>;
  killKafka(opts: Record<string, unknown>): Promise<{ pid: number; signal: string }>;
  startKafka(opts: Record<string, unknown>): Promise<{ pid?: number; startMs: number }>;
}

/**
 * A private single-node Kafka broker for fault injection, on its own port pair and run dir, so
 * that killing it never disturbs the shared broker on 9092. Started, killed and restarted through
 * scripts/infra.mjs; a restart keeps the data dir (topics and offsets survive).
 */
export class PrivateKafka {
  readonly runDir: string;
  pid: number | undefined;
  private infra?: InfraModule;

  constructor(
    readonly port: number,
    private readonly log: (line: string) => void,
    runDir?: string,
  ) {
    this.runDir =
      runDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `dualstream-chaos-kafka-${port}-`));
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private opts(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      kafkaBrokers: this.address,
      kafkaPort: this.port,
      controllerPort: this.port + 1,
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

  /** Start the broker; resolves with the start time in ms. */
  async start(): Promise<number> {
    const infra = await this.load();
    const started = Date.now();
    const res = await infra.infraUp(this.opts());
    this.pid = res.kafka?.pid;
    return Date.now() - started;
  }

  /** `kill -9` the broker (data dir kept). */
  async kill(): Promise<number> {
    const infra = await this.load();
    const res = await infra.killKafka(this.opts({ signal: 'SIGKILL' }));
    this.pid = undefined;
    return res.pid;
  }

  /** Start again on the same data dir; resolves with the time until it served metadata. */
  async restart(): Promise<number> {
    const infra = await this.load();
    const started = Date.now();
    const res = await infra.startKafka(this.opts());
    this.pid = res.pid;
    return Date.now() - started;
  }

  /** Stop the broker and remove its run dir (unless `keep`). */
  async destroy(keep = false): Promise<void> {
    const infra = await this.load();
    await infra.infraDown(this.opts({ clean: !keep })).catch((err: unknown) => {
      this.log(`[infra] stopping the private broker failed: ${String(err)}`);
    });
    if (!keep) fs.rmSync(this.runDir, { recursive: true, force: true });
  }
}
