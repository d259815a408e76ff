// A real Prometheus for the observability tests: Debian's `prometheus` package (2.42, with
// `promtool`) provisioned by scripts/provision.mjs, started on a free loopback port with a temp
// data dir and a generated config, queried through its HTTP API, and stopped with its whole
// process group. Also builds the fast test copy of dashboards/alerts.yml.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { ensureDebianBinary } from '../../scripts/provision.mjs';
import { waitFor } from './pipeline-kit.js';

export const DASHBOARDS = fileURLToPath(new URL('../../dashboards/', import.meta.url));
const PROMTOOL = '/usr/bin/promtool';

/**
 * Make sure `/usr/bin/prometheus` and `/usr/bin/promtool` exist, installing Debian's package when
 * they do not. The package's maintainer script may try to start its service: in containers
 * policy-rc.d usually forbids it, and nothing here depends on it (our instance has its own port).
 */
export function ensurePrometheus(log: (line: string) => void = console.log): {
  prometheus: string;
  promtool: string;
} {
  const prometheus = ensureDebianBinary({ binary: '/usr/bin/prometheus', pkg: 'prometheus', log });
  if (!existsSync(PROMTOOL)) throw new Error(`the prometheus package installed no ${PROMTOOL}`);
  return { prometheus, promtool: PROMTOOL };
}

/** Result of one `promtool` run. */
export interface ToolResult {
  code: number | null;
  output: string;
}

/** Run `promtool <args>` and collect stdout and stderr together. */
export function promtool(args: string[]): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The scrape durations of the fast test copy of the rules. */
export interface FastRuleOptions {
  /** Replaces every `for:`. */
  forDuration: string;
  /** Replaces every range selector (`[5m]`, `[6h]`, ...) in every expression. */
  window: string;
}

/**
 * dashboards/alerts.yml with its durations shrunk so that a test sees an alert go pending,
 * firing and resolved within a minute or two: every `for:` and every range window is replaced,
 * while alert names, labels, annotations, thresholds and the shape of every expression stay
 * those of the shipped file.
 */
export function fastRules(options: FastRuleOptions): string {
  const doc = parse(readFileSync(path.join(DASHBOARDS, 'alerts.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ expr: string; for?: string }> }>;
  };
  for (const group of doc.groups) {
    for (const rule of group.rules) {
      rule.expr = String(rule.expr).replace(/\[\d+[smhdwy]\]/g, `[${options.window}]`);
      if (rule.for !== undefined) rule.for = options.forDuration;
    }
  }
  return stringify(doc);
}

/** One series of an instant query. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  /** `host:port` of every process to scrape (job `dualstream`, path /metrics). */
  targets: string[];
  /** Bearer token the targets' /metrics require (BOARD_TOKEN). */
  token?: string;
  /** Rule files to load, written next to the generated config. */
  rules?: Array<{ name: string; text: string }>;
  /** @defaultValue 1 */
  scrapeIntervalS?: number;
  /** @defaultValue 1 */
  evaluationIntervalS?: number;
}

/** A Prometheus server started by {@link startPrometheus}. */
export interface RunningPrometheus {
  readonly url: string;
  readonly dir: string;
  /** Instant query; throws when Prometheus answers with an error. */
  query(expr: string): Promise<Sample[]>;
  /** Its log so far (stderr), for failure messages. */
  log(): string;
  /** Stop the process group (SIGTERM, then SIGKILL) and remove the temp dir. */
  close(): Promise<void>;
}

/** A free port on 127.0.0.1 (bound, then released). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Start Prometheus with a generated config; resolves once `/-/ready` answers. */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dualstream-prometheus-'));
  const ruleNames: string[] = [];
  for (const r of options.rules ?? []) {
    writeFileSync(path.join(dir, r.name), r.text);
    ruleNames.push(r.name);
  }
  const config = {
    global: {
      scrape_interval: `${options.scrapeIntervalS ?? 1}s`,
      scrape_timeout: `${options.scrapeIntervalS ?? 1}s`,
      evaluation_interval: `${options.evaluationIntervalS ?? 1}s`,
    },
    rule_files: ruleNames,
    scrape_configs: [
      {
        job_name: 'dualstream',
        metrics_path: '/metrics',
        static_configs: [{ targets: options.targets }],
        ...(options.token ? { authorization: { type: 'Bearer', credentials: options.token } } : {}),
      },
    ],
  };
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcessWithoutNullStreams = spawn(
    '/usr/bin/prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { detached: true, cwd: dir },
  );
  let log = '';
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited at start:\n${log}`);
        try {
          return (await fetch(`${url}/-/ready`)).status === 200;
        } catch {
          return false;
        }
      },
      60_000,
      'Prometheus to be ready',
    );
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url,
    dir,
    log: () => log,
    close,
    async query(expr: string): Promise<Sample[]> {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: {
          resultType: string;
          result: Array<{ metric: Record<string, string>; value: [number, string] }>;
        };
      };
      if (body.status !== 'success' || !body.data) {
        throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
      }
      if (body.data.resultType !== 'vector') {
        throw new Error(`query ${expr} returned a ${body.data.resultType}, not a vector`);
      }
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
  };
}

/** State of one alert in Prometheus' own `ALERTS` series. */
export type AlertState = 'inactive' | 'pending' | 'firing';

/** The state of `alertname` now (the highest over its series). */
export async function alertState(prom: RunningPrometheus, alertname: string): Promise<AlertState> {
  const series = await prom.query(`ALERTS{alertname="${alertname}"}`);
  if (series.some((s) => s.metric.alertstate === 'firing')) return 'firing';
  if (series.some((s) => s.metric.alertstate === 'pending')) return 'pending';
  return 'inactive';
}
