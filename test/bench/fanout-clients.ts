// The client side of `npm run bench:fanout`: opens many SSE connections with node:http (cheaper
// per connection than fetch), counts deliveries and measures publish-to-client latency from the
// publish time the bench puts into each event id (`b-<ms>-<n>`; one host, one clock).
// Controlled over IPC: {cmd:'open', url, channels[], count} → {opened}; {cmd:'reset'};
// {cmd:'report'} → {deliveries, histogram (1 ms buckets), errors, cpuMs since the reset}.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const MAX_MS = 10_000;
let hist = new Uint32Array(MAX_MS + 1);
let deliveries = 0;
let errors = 0;
let open = 0;
let cpuAtReset = process.cpuUsage();
const requests: http.ClientRequest[] = [];

function connect(url: string, channel: string): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get(
      `${url}/v1/subscribe?channel=${encodeURIComponent(channel)}`,
      { agent },
      (res) => {
        if (res.statusCode !== 200) {
          errors++;
          res.resume();
          resolve();
          return;
        }
        open++;
        resolve();
        res.setEncoding('utf8');
        let rest = '';
        res.on('data', (chunk: string) => {
          const now = Date.now();
          const text = rest + chunk;
          // Only complete frames (ending in a blank line); the partial one waits for more.
          const cut = text.lastIndexOf('\n\n');
          if (cut < 0) {
            rest = text;
            return;
          }
          rest = text.slice(cut + 2);
          let at = 0;
          for (;;) {
            const i = text.indexOf('"id":"b-', at);
            if (i < 0 || i > cut) break;
            const end = text.indexOf('-', i + 8);
            const ms = Number(text.slice(i + 8, end));
            hist[Math.min(MAX_MS, Math.max(0, now - ms))]!++;
            deliveries++;
            at = end;
          }
        });
        res.on('close', () => open--);
      },
    );
    req.on('error', () => {
      errors++;
      resolve();
    });
    requests.push(req);
  });
}

process.on('message', (m: { cmd: string; url?: string; channels?: string[]; count?: number }) => {
  void (async () => {
    if (m.cmd === 'open') {
      const channels = m.channels!;
      const n = m.count!;
      for (let i = 0; i < n; i += 200) {
        await Promise.all(
          Array.from({ length: Math.min(200, n - i) }, (_, k) =>
            connect(m.url!, channels[(i + k) % channels.length]!),
          ),
        );
      }
      process.send!({ opened: open, errors });
    } else if (m.cmd === 'reset') {
      hist = new Uint32Array(MAX_MS + 1);
      deliveries = 0;
      cpuAtReset = process.cpuUsage();
      process.send!({ ok: true });
    } else if (m.cmd === 'report') {
      const cpu = process.cpuUsage(cpuAtReset);
      process.send!({
        deliveries,
        errors,
        open,
        cpuMs: (cpu.user + cpu.system) / 1000,
        histogram: Array.from(hist),
      });
    } else if (m.cmd === 'close') {
      for (const r of requests) r.destroy();
      process.send!({ ok: true }, undefined, {}, () => process.exit(0));
    }
  })();
});
