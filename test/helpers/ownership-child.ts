// A real ingester process for the ownership tests, run with
// `node --import tsx test/helpers/ownership-child.ts` (forked with IPC by ownership-kit.ts).
// Configuration comes from the environment; every ownership notification is reported to the
// parent as a JSON message. With FENCE_PROBE=1, a disowned stream's stale lease is used once more
// (XACK and the pre-enqueue check) and the refusal is reported: the fencing proof of the stall test.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/index.js';
import { FencingError } from '../../src/errors.js';
import { createIngester, ingestGroup } from '../../src/ingest/index.js';
import type { StreamLease } from '../../src/ownership/index.js';
import { createPublishQueue } from '../../src/queue/index.js';

const name = process.env.CHILD_NAME ?? 'child';
const send = (msg: Record<string, unknown>): void => {
  if (process.connected) process.send?.({ child: name, at: Date.now(), ...msg });
};

const config = loadConfig(process.env);
const publishQueue = createPublishQueue(config);
const ingester = createIngester(config, {
  publishQueue,
  clientOptions: {
    id: `${name}-${process.pid}-${randomBytes(3).toString('hex')}`,
    keyspaceEvents: process.env.OWN_KEYSPACE !== '0',
    lbsBlockMs: 500,
  },
  blockMs: 300,
});
const client = ingester.client;
const leases = new Map<string, StreamLease>();

client.on('StreamAdded', (n) => {
  leases.set(n.stream, n.lease);
  send({ type: 'StreamAdded', stream: n.stream });
});
client.on('StreamClaimed', (n) => {
  leases.set(n.stream, n.lease);
  send({ type: 'StreamClaimed', stream: n.stream, reason: n.reason, failoverMs: n.failoverMs });
});
client.on('StreamExpired', (n) => send({ type: 'StreamExpired', stream: n.stream }));
client.on('StreamDisowned', (n) => {
  send({ type: 'StreamDisowned', stream: n.stream, reason: n.reason });
  const stale = leases.get(n.stream);
  if (process.env.FENCE_PROBE === '1' && stale) void probe(stale);
});
client.on('error', (err) => send({ type: 'error', error: String(err) }));

async function probe(lease: StreamLease): Promise<void> {
  // Bypass the lease's local "ended" flag for the ack: this is the Lua script refusing a stale
  // token inside Redis, not the process remembering it was disowned.
  for (const op of ['ack', 'enqueue'] as const) {
    try {
      if (op === 'ack') await lease.ack(ingestGroup(config.ownership.service), ['0-1']);
      else await lease.assertOwner();
      send({ type: 'fence-probe', op, stream: lease.stream, error: 'none' });
    } catch (err) {
      send({
        type: 'fence-probe',
        op,
        stream: lease.stream,
        error: err instanceof FencingError ? 'FencingError' : String(err),
      });
    }
  }
}

process.on('message', (msg: { cmd?: string }) => {
  if (msg.cmd === 'close') {
    void (async () => {
      const owned = client.ownedStreams;
      await ingester.close();
      for (const stream of owned) send({ type: 'released', stream });
      await publishQueue.close();
      send({ type: 'closed' });
      process.exit(0);
    })();
  } else if (msg.cmd === 'owned') {
    send({ type: 'owned', streams: client.ownedStreams });
  }
});

// The test that forked us is gone (it timed out or was killed before it could close us): do not
// stay behind as an orphan owning streams.
process.on('disconnect', () => process.exit(1));

await ingester.start();
send({ type: 'ready', id: client.id });
