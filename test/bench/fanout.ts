// Fan-out benchmark of the real-time edge (`npm run bench:fanout`): one edge server process, SSE
// clients in separate processes, and notifications published here through the worker's own
// notifier and history script (RedisNotifier + EdgeHistory), at a fixed rate:
//   a. BENCH_HOT_CLIENTS (2000) clients on one hot source at BENCH_HOT_RATE (50) events/s;
//   b. 500 sources × 4 clients at 1000 events/s in total;
//   c. BENCH_IDLE_CLIENTS (10 000) idle clients;
//   sweep (BENCH_SWEEP=1): the hot source of (a) at rising rates, to find the largest one whose
//   p99 stays within 50 ms.
// Latency is publish (the notifier's clock, carried in the event id) to the client's read of it,
// on one host. Redis subscriptions are read from CLIENT LIST (the server's subscriber connection
// has a unique name). Every process is started in its own group and killed as a group.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RedisNotifier } from '../../src/publisher/redis-notifier.js';
import { EdgeHistory } from '../../src/realtime/history.js';
import { edgeKeyBase, removeEdgeState } from '../../src/realtime/keys.js';
import type { DualEvent } from '../../src/events/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const HOT_CLIENTS = Number(process.env.BENCH_HOT_CLIENTS ?? 2000);
const HOT_RATE = Number(process.env.BENCH_HOT_RATE ?? 50);
const SOURCES = Number(process.env.BENCH_SOURCES ?? 500);
const PER_SOURCE = Number(process.env.BENCH_CLIENTS_PER_SOURCE ?? 4);
const SPREAD_RATE = Number(process.env.BENCH_SPREAD_RATE ?? 1000);
const IDLE_CLIENTS = Number(process.env.BENCH_IDLE_CLIENTS ?? 10_000);
const CLIENT_PROCS = Number(process.env.BENCH_CLIENT_PROCS ?? 2);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'a,b,c').split(',').map((s) => s.trim()));
// BENCH_SERVER_PROFILE=1: the server writes a V8 CPU profile to test-artifacts/ when it stops.
const PROFILE = process.env.BENCH_SERVER_PROFILE === '1';
const run = `fanout-${randomUUID().slice(0, 8)}`;
const channelPrefix = `${run}-events`;
const subName = `${run}-edge-sub`;
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const children: ChildProcess[] = [];

function killAll(): void {
  for (const c of children) {
    if (c.pid && c.exitCode === null) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
process.on('exit', killAll);

let serverChild: ChildProcess | undefined;

/** Ask the server to stop (it writes its profile on a clean exit); killed after 10 s anyway. */
async function stopServer(): Promise<void> {
  const c = serverChild;
  if (!c || c.exitCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
}

async function startServer(): Promise<{ url: string; pid: number }> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      ...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', 'test-artifacts'] : []),
      '--import',
      'tsx',
      here('./fanout-server.ts'),
    ],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        REDIS_URL,
        DUALSTREAM_CHANNEL_PREFIX: channelPrefix,
        BENCH_SUB_NAME: subName,
      },
    },
  );
  children.push(child);
  serverChild = child;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as { url: string; pid: number });
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

interface ClientProc {
  child: ChildProcess;
  ask(m: object): Promise<Record<string, unknown>>;
}

function startClients(): ClientProc {
  const child = fork(here('./fanout-clients.ts'), [], {
    execArgv: ['--import', 'tsx'],
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return {
    child,
    ask: (m) =>
      new Promise((resolve) => {
        child.once('message', (r) => resolve(r as Record<string, unknown>));
        child.send(m);
      }),
  };
}

async function serverState(
  url: string,
): Promise<{ clients: number; rss: number; dropped: number; cpuMs: number }> {
  return (await (await fetch(`${url}/clients`)).json()) as {
    clients: number;
    rss: number;
    dropped: number;
    cpuMs: number;
  };
}

function percentile(hist: number[], p: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return NaN;
  let seen = 0;
  for (let ms = 0; ms < hist.length; ms++) {
    seen += hist[ms]!;
    if (seen >= total * p) return ms;
  }
  return hist.length - 1;
}

const redis = new Redis(REDIS_URL);
const history = new EdgeHistory(edgeKeyBase('bull', channelPrefix));
const notifier = new RedisNotifier({ redis, channelPrefix, history });
const seqs = new Map<string, number>();
let published = 0;

function publishOne(sourceType: string, sourceId: string): void {
  const key = `${sourceType}:${sourceId}`;
  const seq = (seqs.get(key) ?? 0) + 1;
  seqs.set(key, seq);
  const event: DualEvent = {
    id: `b-${Date.now()}-${published++}`,
    type: 'bench',
    sourceType,
    sourceId,
    occurredAt: new Date().toISOString(),
    payload: {},
  } as DualEvent;
  void notifier.notify(event, { topic: 'bench', partition: 0, offset: String(seq), seq });
}

async function publishAt(
  rate: number,
  seconds: number,
  pick: (n: number) => [string, string],
): Promise<number> {
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    while (sent < due) publishOne(...pick(sent++));
    await new Promise((r) => setTimeout(r, 5));
  }
  return sent;
}

async function subscriptions(): Promise<{
  connections: number;
  channels: number;
  patterns: number;
}> {
  const list = (await redis.client('LIST')) as string;
  const mine = list.split('\n').filter((l) => l.includes(` name=${subName} `));
  const field = (l: string, f: string) => Number(new RegExp(` ${f}=(\\d+)`).exec(l)?.[1] ?? 0);
  return {
    connections: mine.length,
    channels: mine.reduce((a, l) => a + field(l, 'sub'), 0),
    patterns: mine.reduce((a, l) => a + field(l, 'psub'), 0),
  };
}

interface Row {
  scenario: string;
  clients: number;
  rate: number;
  expected: number;
  deliveries: number;
  perSecond: number;
  p50: number;
  p99: number;
  rssPer1000: number;
  dropped: number;
  /** CPU used while publishing, as a share of one core: the server, and all client processes. */
  serverCpu: number;
  clientsCpu: number;
  subs: string;
}

async function scenario(
  name: string,
  url: string,
  channels: string[],
  clients: number,
  rate: number,
  pick: ((n: number) => [string, string]) | undefined,
  seconds = SECONDS,
): Promise<Row> {
  const before = await serverState(url);
  const procs = Array.from({ length: CLIENT_PROCS }, () => startClients());
  const share = Math.ceil(clients / CLIENT_PROCS);
  await Promise.all(
    procs.map((p, i) => {
      // Each process takes a contiguous share of the channel list, so sources keep all clients.
      const mine = Array.from(
        { length: Math.min(share, clients - i * share) },
        (_, k) => channels[(i * share + k) % channels.length]!,
      );
      return p.ask({ cmd: 'open', url, channels: mine, count: mine.length });
    }),
  );
  const deadline = Date.now() + 60_000;
  while ((await serverState(url)).clients < before.clients + clients && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = await serverState(url);
  const connected = after.clients - before.clients;
  await Promise.all(procs.map((p) => p.ask({ cmd: 'reset' })));
  const cpuFrom = (await serverState(url)).cpuMs;
  const measuredFrom = Date.now();
  let sent = 0;
  if (pick) {
    sent = await publishAt(rate, seconds, pick);
    await new Promise((r) => setTimeout(r, 2000));
  }
  const reports = await Promise.all(procs.map((p) => p.ask({ cmd: 'report' })));
  const end = await serverState(url);
  const wall = Date.now() - measuredFrom;
  const dropped = end.dropped - before.dropped;
  const hist = new Array<number>(10_001).fill(0);
  let deliveries = 0;
  for (const r of reports) {
    deliveries += r.deliveries as number;
    (r.histogram as number[]).forEach((v, i) => (hist[i]! += v));
  }
  const subs = await subscriptions();
  await Promise.all(procs.map((p) => p.ask({ cmd: 'close' }).catch(() => undefined)));
  for (const p of procs) {
    if (p.child.pid) {
      try {
        process.kill(-p.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  // Wait until the server saw them go.
  const gone = Date.now() + 30_000;
  while ((await serverState(url)).clients > before.clients && Date.now() < gone) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const perSource = pick ? clients / channels.length : 0;
  return {
    scenario: name,
    clients: connected,
    rate,
    expected: Math.round(sent * perSource),
    deliveries,
    perSecond: pick ? Math.round(deliveries / seconds) : 0,
    p50: percentile(hist, 0.5),
    p99: percentile(hist, 0.99),
    dropped,
    serverCpu: pick ? (end.cpuMs - cpuFrom) / wall : NaN,
    clientsCpu: pick ? reports.reduce((a, r) => a + (r.cpuMs as number), 0) / wall : NaN,
    rssPer1000:
      Math.round(((((after.rss - before.rss) / Math.max(1, connected)) * 1000) / 1_048_576) * 10) /
      10,
    subs: `${subs.connections} conn, ${subs.patterns} pattern, ${subs.channels} channel`,
  };
}

async function main(): Promise<void> {
  const server = await startServer();
  const rows: Row[] = [];
  try {
    if (ONLY.has('a')) {
      rows.push(
        await scenario(`a. 1 hot source`, server.url, ['hot:a'], HOT_CLIENTS, HOT_RATE, () => [
          'hot',
          'a',
        ]),
      );
    }
    if (ONLY.has('b')) {
      const spread = Array.from({ length: SOURCES }, (_, i) => `spread:s${i}`);
      rows.push(
        await scenario(
          `b. ${SOURCES} sources × ${PER_SOURCE}`,
          server.url,
          spread,
          SOURCES * PER_SOURCE,
          SPREAD_RATE,
          (n) => ['spread', `s${n % SOURCES}`],
        ),
      );
    }
    if (ONLY.has('c')) {
      rows.push(await scenario('c. idle', server.url, ['idle:a'], IDLE_CLIENTS, 0, undefined));
    }
    if (process.env.BENCH_SWEEP === '1') {
      for (const rate of (process.env.BENCH_SWEEP_RATES ?? '5,10,20,30,50')
        .split(',')
        .map(Number)) {
        const r = await scenario(
          `sweep hot`,
          server.url,
          ['hot:b'],
          HOT_CLIENTS,
          rate,
          () => ['hot', 'b'],
          10,
        );
        rows.push(r);
        if (!(r.p99 <= 50) || r.dropped > 0) break;
      }
    }
  } finally {
    await stopServer();
    killAll();
    await removeEdgeState(redis, 'bull', channelPrefix);
    await notifier.close();
    await redis.quit();
  }
  const table = [
    '| scenario | clients | events/s | deliveries (expected) | deliveries/s | p50 ms | p99 ms | slow clients dropped | CPU cores: server / clients | server RSS / 1000 clients (MiB) | server Redis subscriptions |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.clients} | ${r.rate} | ${r.deliveries} (${r.expected}) | ${r.perSecond} | ${Number.isNaN(r.p50) ? '–' : r.p50} | ${Number.isNaN(r.p99) ? '–' : r.p99} | ${r.dropped} | ${Number.isNaN(r.serverCpu) ? '–' : `${r.serverCpu.toFixed(2)} / ${r.clientsCpu.toFixed(2)}`} | ${r.rssPer1000} | ${r.subs} |`,
    ),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    killAll();
    process.exit(1);
  },
);
