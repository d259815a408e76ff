import type { DualstreamConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { hasCredentials } from './auth.js';

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Refuse to serve without credentials, unless the server binds to loopback and the operator
 * explicitly asked for insecure mode (`--insecure` / `DUALSTREAM_INSECURE=1`).
 * @throws ConfigError naming the variables to set.
 */
export function assertSecureBinding(config: Pick<DualstreamConfig, 'server'>): void {
  const s = config.server;
  if (hasCredentials(s)) return;
  if (s.insecure && isLoopbackHost(s.host)) return;
  if (s.insecure) {
    throw new ConfigError([
      {
        variable: 'DUALSTREAM_INSECURE',
        message: `insecure mode (no credentials) is only allowed on a loopback host, but HOST is "${s.host}"; set BOARD_USER and BOARD_PASSWORD or BOARD_TOKEN`,
      },
    ]);
  }
  throw new ConfigError([
    {
      variable: 'BOARD_USER',
      message:
        'no credentials configured: set BOARD_USER and BOARD_PASSWORD (basic auth) or BOARD_TOKEN (bearer), or bind HOST to 127.0.0.1 with --insecure for local development',
    },
  ]);
}
