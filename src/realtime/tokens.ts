import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { safeEqual } from '../server/auth.js';
import { DualstreamError } from '../errors.js';

// eslint-disable-next-line no-control-regex
const SOURCE_PART = /^[^\s:*?[\]\\\u0000-\u001f\u007f]+$/;

/** A parsed subscription channel: one source, or every source of a type (`<type>:*`). */
export type Channel =
  | { kind: 'source'; name: string; sourceType: string; sourceId: string }
  | { kind: 'type'; name: string; sourceType: string };

/**
 * zod schema of a subscription channel: `<sourceType>:<sourceId>` or `<sourceType>:*`, with the
 * same character and length rules as the event's source fields.
 */
export const channelSchema = z
  .string()
  .min(3, 'channel must be <sourceType>:<sourceId> or <sourceType>:*')
  .max(321, 'channel must be at most 321 characters')
  .transform((s, ctx): Channel => {
    const colon = s.indexOf(':');
    const sourceType = colon > 0 ? s.slice(0, colon) : '';
    const sourceId = colon > 0 ? s.slice(colon + 1) : '';
    if (!SOURCE_PART.test(sourceType) || sourceType.length > 64) {
      ctx.addIssue({
        code: 'custom',
        message: `channel "${s}": sourceType must be 1-64 characters without whitespace, ":" or glob characters (form <sourceType>:<sourceId> or <sourceType>:*)`,
      });
      return z.NEVER;
    }
    if (sourceId === '*') return { kind: 'type', name: s, sourceType };
    if (!SOURCE_PART.test(sourceId) || sourceId.length > 256) {
      ctx.addIssue({
        code: 'custom',
        message: `channel "${s}": sourceId must be 1-256 characters without whitespace, ":" or glob characters, or "*" for every source of the type`,
      });
      return z.NEVER;
    }
    return { kind: 'source', name: s, sourceType, sourceId };
  });

/**
 * A position in a channel: the last seq delivered (source), or `<type-stream id>@<epoch>`
 * (aggregate).
 */
export type Position = number | string;

const RESUME_PREFIX = 'r1.';

/**
 * Encode the positions of a subscription as an opaque resume token (the SSE `id`): `r1.` and the
 * base64url of a JSON array of `[channel, position]` pairs. Not signed: it only says where a
 * client is, and the channels it may read are checked on every request.
 */
export function encodeResumeToken(positions: Iterable<[string, Position]>): string {
  return RESUME_PREFIX + Buffer.from(JSON.stringify([...positions])).toString('base64url');
}

/** Decode a resume token; `undefined` when it is not one (the caller answers with a reset). */
export function decodeResumeToken(token: string): Map<string, Position> | undefined {
  if (!token.startsWith(RESUME_PREFIX) || token.length > 65_536) return undefined;
  try {
    const parsed: unknown = JSON.parse(
      Buffer.from(token.slice(RESUME_PREFIX.length), 'base64url').toString('utf8'),
    );
    if (!Array.isArray(parsed)) return undefined;
    const out = new Map<string, Position>();
    for (const pair of parsed) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string')
        return undefined;
      const p: unknown = pair[1];
      if (typeof p === 'number' && Number.isInteger(p) && p >= 0) out.set(pair[0], p);
      else if (typeof p === 'string' && /^\d{1,20}-\d{1,20}@[0-9a-f]{0,32}$/.test(p)) {
        out.set(pair[0], p);
      } else return undefined;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Thrown by {@link createSubscribeToken} for bad options. */
export class SubscribeTokenError extends DualstreamError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

/** Options of {@link createSubscribeToken}. */
export interface SubscribeTokenOptions {
  /** `SUBSCRIBE_SECRET` of the server (at least 32 characters). */
  secret: string;
  /** Channels the holder may subscribe to: `<type>:<id>` or `<type>:*` (which covers its sources). */
  channels: string[];
  /** Lifetime. @defaultValue 300 s; at most 86 400 s */
  ttlSeconds?: number;
  /** Clock, for tests. @defaultValue `Date.now()` */
  now?: number;
}

const SUB_PREFIX = 's1.';

function sign(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}

/**
 * Mint a short-lived subscribe token for a browser (EventSource cannot send headers): pass it as
 * `?token=`. It lists the channels (or `<type>:*` patterns) it allows and an expiry, signed with
 * HMAC-SHA256 under `SUBSCRIBE_SECRET`. Format: `s1.<base64url {"c":[...],"exp":<unix s>}>.<sig>`.
 */
export function createSubscribeToken(options: SubscribeTokenOptions): string {
  if (typeof options.secret !== 'string' || options.secret.length < 32) {
    throw new SubscribeTokenError('secret must be at least 32 characters (SUBSCRIBE_SECRET)');
  }
  if (!Array.isArray(options.channels) || options.channels.length === 0) {
    throw new SubscribeTokenError('channels must list at least one channel');
  }
  for (const c of options.channels) {
    const r = channelSchema.safeParse(c);
    if (!r.success) throw new SubscribeTokenError(r.error.issues[0]?.message ?? 'bad channel');
  }
  const ttl = options.ttlSeconds ?? 300;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 86_400) {
    throw new SubscribeTokenError('ttlSeconds must be a whole number from 1 to 86400');
  }
  const exp = Math.floor((options.now ?? Date.now()) / 1000) + ttl;
  const body = Buffer.from(JSON.stringify({ c: options.channels, exp })).toString('base64url');
  return `${SUB_PREFIX}${body}.${sign(options.secret, body)}`;
}

/** A verified subscribe token, or why it was refused. */
export type VerifiedToken =
  { ok: true; channels: string[]; exp: number } | { ok: false; reason: string };

/** Check a subscribe token's signature and expiry. */
export function verifySubscribeToken(
  token: string,
  secret: string,
  now: number = Date.now(),
): VerifiedToken {
  if (!token.startsWith(SUB_PREFIX)) return { ok: false, reason: 'not a subscribe token' };
  const rest = token.slice(SUB_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot < 0) return { ok: false, reason: 'malformed subscribe token' };
  const body = rest.slice(0, dot);
  if (!safeEqual(rest.slice(dot + 1), sign(secret, body))) {
    return { ok: false, reason: 'subscribe token signature does not match' };
  }
  try {
    const p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as {
      c?: unknown;
      exp?: unknown;
    };
    if (!Array.isArray(p.c) || typeof p.exp !== 'number') {
      return { ok: false, reason: 'malformed subscribe token' };
    }
    if (p.exp * 1000 <= now) return { ok: false, reason: 'subscribe token expired' };
    return {
      ok: true,
      channels: p.c.filter((c): c is string => typeof c === 'string'),
      exp: p.exp,
    };
  } catch {
    return { ok: false, reason: 'malformed subscribe token' };
  }
}

/** Whether `channel` is covered by `allowed` (an exact channel, or `<type>:*` for its sources). */
export function channelAllowed(channel: Channel, allowed: readonly string[]): boolean {
  return allowed.some(
    (a) => a === channel.name || (a === `${channel.sourceType}:*` && channel.kind === 'source'),
  );
}
