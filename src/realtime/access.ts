import type { IncomingHttpHeaders } from 'node:http';
import { checkAuthorization, hasCredentials, type ServerCredentials } from '../server/auth.js';
import { channelAllowed, verifySubscribeToken, type Channel } from './tokens.js';

/** The verdict on a subscription request. */
export type AccessVerdict = { ok: true } | { ok: false; status: 401 | 403; error: string };

/** Credentials the edge accepts: the API's basic/bearer ones, and the subscribe-token secret. */
export interface EdgeCredentials extends ServerCredentials {
  subscribeSecret?: string;
}

/**
 * Decide whether a request may read `channels`: the API's basic or bearer credentials allow
 * every channel; a subscribe token (`?token=`) allows the channels it lists. 401 without valid
 * credentials, 403 for a channel outside the token. With no credentials configured at all (the
 * explicit insecure loopback mode) everything is allowed.
 */
export function checkAccess(
  headers: IncomingHttpHeaders,
  token: string | undefined,
  channels: Channel[],
  c: EdgeCredentials,
  now = Date.now(),
): AccessVerdict {
  if (!hasCredentials(c) && !c.subscribeSecret) return { ok: true };
  if (headers.authorization && checkAuthorization(headers.authorization, c)) return { ok: true };
  if (token === undefined) {
    return {
      ok: false,
      status: 401,
      error: 'Unauthorized: valid credentials or ?token= are required',
    };
  }
  if (!c.subscribeSecret) {
    return {
      ok: false,
      status: 401,
      error: 'Unauthorized: subscribe tokens are not enabled (SUBSCRIBE_SECRET)',
    };
  }
  const v = verifySubscribeToken(token, c.subscribeSecret, now);
  if (!v.ok) return { ok: false, status: 401, error: `Unauthorized: ${v.reason}` };
  const outside = channels.filter((ch) => !channelAllowed(ch, v.channels));
  if (outside.length > 0) {
    return {
      ok: false,
      status: 403,
      error: `Forbidden: the token does not allow ${outside.map((o) => `"${o.name}"`).join(', ')}`,
    };
  }
  return { ok: true };
}
