import { randomBytes } from 'node:crypto';
import type { DualstreamConfig } from '../config/index.js';
import { hasCredentials } from '../server/auth.js';
import { isLoopbackHost } from '../server/security.js';

/** How the server's credentials were chosen, for the start-up banner. */
export type CredentialSource = 'configured' | 'generated' | 'insecure';

/**
 * The fresh-machine default of `dualstream start`: with no credentials configured, not in insecure
 * mode, and bound to loopback, generate a password for user `admin` for this run. Anything else
 * is left to `assertSecureBinding` (which refuses a public binding without credentials).
 */
export function withStartCredentials(config: DualstreamConfig): {
  config: DualstreamConfig;
  source: CredentialSource;
} {
  const s = config.server;
  if (hasCredentials(s)) return { config, source: 'configured' };
  if (s.insecure) return { config, source: 'insecure' };
  if (!isLoopbackHost(s.host)) return { config, source: 'configured' };
  const password = randomBytes(12).toString('base64url');
  return { config: { ...config, server: { ...s, user: 'admin', password } }, source: 'generated' };
}

/** The lines printed at start-up: where the board is and how to log in. */
export function bannerLines(
  url: string,
  config: DualstreamConfig,
  source: CredentialSource,
): string[] {
  const s = config.server;
  const lines = [
    '',
    `  Bull Board:   ${url}/admin/queues`,
    `  Ingest API:   POST ${url}/v1/events`,
    `  Health:       ${url}/healthz  ${url}/readyz   Metrics: ${url}/metrics`,
  ];
  if (source === 'insecure') {
    lines.push('  Auth:         NONE (--insecure, loopback only). Do not expose this port.');
  } else if (source === 'generated') {
    lines.push(`  Login:        user "${s.user}"  password "${s.password}"`);
    lines.push(
      '                (generated for this run; set BOARD_USER/BOARD_PASSWORD or BOARD_TOKEN to choose)',
    );
  } else {
    if (s.user)
      lines.push(`  Login:        user "${s.user}" with the password from BOARD_PASSWORD`);
    if (s.token) lines.push('  Token:        send "Authorization: Bearer $BOARD_TOKEN"');
  }
  lines.push('');
  return lines;
}
