// Raw-socket probes that tell Kafka, Redis, "nothing listens" and "something else" apart without a
// client library (no retries, so they answer fast), plus host:port parsing and port diagnostics.

import { spawnSync } from 'node:child_process';
import net from 'node:net';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Splits "host:port" (or "[::1]:port") into its parts. */
export function parseHostPort(hostPort, defaultPort) {
  const value = hostPort.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    return { host: bracketed[1], port: Number(bracketed[2] ?? defaultPort) };
  }
  const idx = value.lastIndexOf(':');
  if (idx === -1) return { host: value, port: defaultPort };
  return { host: value.slice(0, idx), port: Number(value.slice(idx + 1)) };
}

/** The infra script only starts services on these hosts; anything else must already run. */
export function isLoopback(host) {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

/**
 * Sends a Kafka ApiVersions v0 request over a raw socket. A reply that carries our correlation id
 * is Kafka; anything else on an open port is not. No client library retries, so it is fast.
 */
export function probeKafka(host, port, timeoutMs = 1500) {
  const correlationId = 0x5d5a0000 + Math.floor(Math.random() * 0xffff);
  const clientId = Buffer.from('dualstream-infra');
  const request = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
  request.writeInt32BE(request.length - 4, 0);
  request.writeInt16BE(18, 4); // ApiVersions
  request.writeInt16BE(0, 6); // v0: every broker generation answers it
  request.writeInt32BE(correlationId, 8);
  request.writeInt16BE(clientId.length, 12);
  clientId.copy(request, 14);

  let received = Buffer.alloc(0);
  return probeSocket(host, port, timeoutMs, {
    request,
    expected: 'a Kafka ApiVersions request',
    onData(chunk) {
      received = Buffer.concat([received, chunk]);
      if (received.length < 8) return undefined;
      const size = received.readInt32BE(0);
      const echoed = received.readInt32BE(4);
      if (echoed === correlationId && size >= 4 && size < 1_048_576) {
        return { state: 'kafka', detail: 'answered ApiVersions' };
      }
      const sample = JSON.stringify(received.subarray(0, 24).toString('latin1'));
      return { state: 'other', detail: `replied with non-Kafka bytes ${sample}` };
    },
    errorDetail: (err) => `connection failed after connect: ${err.message}`,
    closeDetail: 'closed the connection without a Kafka reply',
  });
}

/** Sends an inline PING; "+PONG" or a Redis error reply ("-NOAUTH …") means Redis is there. */
export function probeRedis(host, port, timeoutMs = 1500) {
  let received = '';
  return probeSocket(host, port, timeoutMs, {
    request: 'PING\r\n',
    expected: 'PING',
    onData(chunk) {
      received += chunk.toString('latin1');
      if (!received.includes('\r\n')) return undefined;
      if (received.startsWith('+PONG') || received.startsWith('-')) {
        return { state: 'redis', detail: received.trim() };
      }
      return { state: 'other', detail: `replied ${JSON.stringify(received.slice(0, 40))}` };
    },
    errorDetail: (err) => err.message,
    closeDetail: 'closed the connection',
  });
}

/**
 * Connects, writes `request` and settles exactly once: with `onData`'s verdict (it returns
 * undefined while it needs more bytes), or on a timeout, socket error or close. Shared by both
 * probes so a silent, refusing or closing port is judged the same way for Kafka and Redis.
 */
function probeSocket(
  host,
  port,
  timeoutMs,
  { request, expected, onData, errorDetail, closeDetail },
) {
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const socket = net.connect({ host, port });
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish(
        connected
          ? { state: 'other', detail: `no reply to ${expected} within ${timeoutMs} ms` }
          : { state: 'closed', detail: `connect timed out after ${timeoutMs} ms` },
      );
    }, timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(request);
    });
    socket.on('data', (chunk) => {
      const result = onData(chunk);
      if (result) finish(result);
    });
    socket.on('error', (err) => {
      finish(
        connected
          ? { state: 'other', detail: errorDetail(err) }
          : { state: 'closed', detail: err.code ?? err.message },
      );
    });
    socket.on('close', () => finish({ state: 'other', detail: closeDetail }));
  });
}

/** Best effort: which process listens on a local port (for error messages only). */
export function describePortHolder(port) {
  const res = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  if (res.status !== 0 || !res.stdout) return '';
  const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(res.stdout);
  return m ? ` (process "${m[1]}", pid ${m[2]})` : '';
}

export function notKafkaError(address, port, detail) {
  return new Error(
    `Port ${port} (${address}) is held by something that is not Kafka${describePortHolder(port)}: ` +
      `${detail}. Stop that process or point KAFKA_BROKERS at another port.`,
  );
}
