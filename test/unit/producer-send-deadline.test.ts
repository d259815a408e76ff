// A send that never settles must not hold every later send behind it. A loopback server that
// accepts connections and never answers is a broker that hangs; kafkajs' own request timeout is
// set far beyond the send deadline so that only the deadline can end the send.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaPublishError } from '../../src/errors.js';
import { createKafkajsProducer } from '../../src/publisher/event-producer.js';

describe('kafkajs producer: send deadline', () => {
  let server: net.Server;
  let port = 0;
  let connections = 0;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    server = net.createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fails a send that does not settle in time, retriable, and tries again on a new connection', async () => {
    const producer = createKafkajsProducer(
      { brokers: [`127.0.0.1:${port}`], clientId: 'deadline-test', ssl: false },
      { connectionTimeout: 60_000, requestTimeout: 60_000, sendTimeoutMs: 300 },
    );
    const record = { topic: 't', key: 'k', value: '{}', headers: {} };
    const started = Date.now();
    const err = await producer.send([record]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaPublishError);
    expect((err as KafkaPublishError).message).toMatch(/did not settle within 300 ms/);
    expect((err as KafkaPublishError).retriable).toBe(true);
    // Well before kafkajs' own 60 s timeouts could have ended it.
    expect(Date.now() - started).toBeLessThan(30_000);
    const before = connections;
    const again = await producer.send([record]).catch((e: unknown) => e);
    expect((again as KafkaPublishError).message).toMatch(/did not settle/);
    // The second send did not queue behind the first: a fresh producer connected anew.
    expect(connections).toBeGreaterThan(before);
    await producer.disconnect();
  });
});
