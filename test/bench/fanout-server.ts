// The server side of `npm run bench:fanout`: the real-time edge alone (one pattern subscription,
// SSE routes) on an ephemeral port, without credentials (loopback). Prints one JSON line with its
// URL when ready; stops on SIGTERM.
import express from 'express';
import { loadConfig } from '../../src/config/index.js';
import { createRedis } from '../../src/redis.js';
import { DualstreamMetrics } from '../../src/metrics.js';
import { createRealtimeEdge } from '../../src/realtime/index.js';
import { listenOn } from '../../src/server/listen.js';

const config = loadConfig({
  ...process.env,
  DUALSTREAM_INSECURE: 'true',
  LOG_LEVEL: 'silent',
});
const subscriber = createRedis(config.redis.pubsubUrl, {
  name: process.env.BENCH_SUB_NAME ?? 'bench-edge-sub',
});
const metrics = new DualstreamMetrics();
const edge = createRealtimeEdge(config, { subscriber, metrics });
await edge.start();
const app = express();
app.use(edge.router);
app.get('/clients', (_req, res) => {
  // Run with --expose-gc: RSS after a full collection is what the clients really hold.
  (globalThis as { gc?: () => void }).gc?.();
  void metrics.edgeDropped.get().then((d) => {
    res.json({
      clients: edge.hub.size,
      rss: process.memoryUsage().rss,
      cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      dropped: d.values[0]?.value ?? 0,
    });
  });
});
const started = await listenOn(app, '127.0.0.1', 0);
edge.attach(started.server);
process.stdout.write(`${JSON.stringify({ url: started.url, pid: process.pid })}\n`);
const stop = async () => {
  await edge.close();
  await subscriber.quit().catch(() => undefined);
  await started.close().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
