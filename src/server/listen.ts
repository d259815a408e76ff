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
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${urlHost(config.server.host)}:${port}`;
  logger.info({ url }, 'HTTP server listening');
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
