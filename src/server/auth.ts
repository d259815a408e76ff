import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Credentials accepted by the server. Either pair may be absent; both absent means no auth. */
export interface ServerCredentials {
  /** Basic-auth user (`BOARD_USER`). */
  user?: string;
  /** Basic-auth password (`BOARD_PASSWORD`). */
  password?: string;
  /** Bearer token (`BOARD_TOKEN`). */
  token?: string;
}

/** Realm sent in `WWW-Authenticate`, so browsers show their login dialog. */
export const AUTH_REALM = 'dualstream';

/** Whether any credential is configured. */
export function hasCredentials(c: ServerCredentials): boolean {
  return Boolean((c.user && c.password) || c.token);
}

// Comparing SHA-256 digests (always 32 bytes) instead of the raw strings keeps timingSafeEqual
// from throwing on different lengths and keeps the time from revealing the secret's length.
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time string comparison that does not leak the length of either side. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Check an `Authorization` header value against the configured credentials. Basic and Bearer
 * schemes are accepted; every configured secret is compared, so the time taken does not depend on
 * which part was wrong.
 */
export function checkAuthorization(header: string | undefined, c: ServerCredentials): boolean {
  if (!header) return false;
  const space = header.indexOf(' ');
  if (space < 0) return false;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') {
    return c.token !== undefined && safeEqual(value, c.token);
  }
  if (scheme === 'basic') {
    if (c.user === undefined || c.password === undefined) return false;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    // Evaluate both comparisons before combining them (no short-circuit on a wrong user name).
    const userOk = safeEqual(decoded.slice(0, colon), c.user);
    const passwordOk = safeEqual(decoded.slice(colon + 1), c.password);
    return userOk && passwordOk;
  }
  return false;
}

/** Options of {@link requireAuth}. */
export interface RequireAuthOptions {
  /**
   * Accept only the bearer token (used for `/metrics`, where Prometheus sends a token); when no
   * token is configured the route stays open.
   * @defaultValue false
   */
  bearerOnly?: boolean;
}

/**
 * Express middleware answering 401 (JSON, with `WWW-Authenticate`) unless the request carries
 * valid credentials. With no credentials configured it lets everything through: the caller decides
 * whether that is allowed (see `assertSecureBinding`).
 */
export function requireAuth(
  c: ServerCredentials,
  options: RequireAuthOptions = {},
): RequestHandler {
  const bearerOnly = options.bearerOnly ?? false;
  const effective: ServerCredentials = bearerOnly ? { token: c.token } : c;
  return (req: Request, res: Response, next: NextFunction) => {
    if (!hasCredentials(effective)) return next();
    if (checkAuthorization(req.headers.authorization, effective)) return next();
    res.setHeader(
      'WWW-Authenticate',
      effective.user && effective.password
        ? `Basic realm="${AUTH_REALM}"`
        : `Bearer realm="${AUTH_REALM}"`,
    );
    res.status(401).json({ error: 'Unauthorized: valid credentials are required' });
  };
}
