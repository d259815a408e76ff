import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { DualstreamConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import { hasCredentials } from './auth.js';
import { assertSecureBinding } from './security.js';

/** A listening server and its base URL. */
export interface StartedServer {
  server: Server;
  /** e.g. `http://127.0.0.1:3000` (with the real port when PORT=0). */
  url: string;
  /** Stop accepting connections and close idle ones; resolves when closed. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Listen on `config.server.host` / `config.server.port` (0 = ephemeral). Checks the binding first
 * (see `assertSecureBinding`) and warns loudly when running without credentials.
 */
export async function startServer(
  app: Express,
  config: DualstreamConfig,
  logger: Logger,
): Promise<StartedServer> {
  assertSecureBinding(config);
  if (!hasCredentials(config.server)) {
    logger.warn(
      { host: config.server.host },
      'INSECURE MODE: Bull Board and POST /v1/events accept requests WITHOUT credentials (loopback only). Do not use this outside local development.',
    );
  }
  const started = await listenOn(app, config.server.host, config.server.port);
  logger.info({ url: started.url }, 'HTTP server listening');
  return started;
}

/**
 * Serve `app` on `host`:`port` (0 = ephemeral) with no checks of its own; {@link startServer}
 * and the metrics-only endpoint of `worker`/`ingest` both listen through it.
 */
export async function listenOn(app: Express, host: string, port: number): Promise<StartedServer> {
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${urlHost(host)}:${address.port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
