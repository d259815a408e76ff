import { z } from 'zod';
import { v7 as uuidv7 } from 'uuid';
import { EventValidationError, type EventIssue } from '../errors.js';

/** Default payload limit: 1 MiB of serialized JSON. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_048_576;
/** Payloads may nest at most this deep (objects and arrays). */
export const MAX_PAYLOAD_DEPTH = 64;

// Characters that would break a channel or Kafka key (`:` separates parts), widen a subscriber's
// PSUBSCRIBE pattern (`* ? [ ] \`), or hide in logs (whitespace, control characters).
// eslint-disable-next-line no-control-regex
const SOURCE_PART = /^[^\s:*?[\]\\\u0000-\u001f\u007f]+$/;
// eslint-disable-next-line no-control-regex
const EVENT_ID = /^[^\s:\u0000-\u001f\u007f]+$/;
// eslint-disable-next-line no-control-regex
const EVENT_TYPE = /^[^\s\u0000-\u001f\u007f]+$/;

// A missing field reads "is required", not "must be a string".
const stringError = (field: string) => ({
  error: (issue: { input?: unknown }) =>
    issue.input === undefined ? `${field} is required` : `${field} must be a string`,
});

const sourcePart = (field: string, max: number) =>
  z
    .string(stringError(field))
    .min(1, `${field} must not be empty`)
    .max(max, `${field} must be at most ${max} characters`)
    .regex(
      SOURCE_PART,
      `${field} must not contain whitespace, control characters, ":" or glob characters * ? [ ] \\`,
    );

/**
 * The event contract. Input accepted by `enqueueEvent`, `POST /v1/events` and the worker; output
 * is a normalized {@link DualEvent} (id generated, `occurredAt` defaulted).
 */
export const eventSchema = z.object({
  id: z
    .string(stringError('id'))
    .min(1, 'id must not be empty')
    .max(200, 'id must be at most 200 characters')
    .regex(EVENT_ID, 'id must not contain ":", whitespace or control characters')
    .refine((s) => !/^\d+$/.test(s), 'id must not be an integer (BullMQ rejects integer job ids)')
    .optional(),
  type: z
    .string(stringError('type'))
    .min(1, 'type must not be empty')
    .max(128, 'type must be at most 128 characters')
    .regex(EVENT_TYPE, 'type must not contain whitespace or control characters'),
  sourceType: sourcePart('sourceType', 64),
  sourceId: sourcePart('sourceId', 256),
  occurredAt: z.iso
    .datetime({ offset: true, error: 'occurredAt must be an ISO 8601 date-time' })
    .optional(),
  payload: z
    .json({ error: 'payload must be JSON (object, array, string, number, boolean or null)' })
    .optional(),
  headers: z
    .record(
      z.string().min(1).max(256),
      z.string({ error: 'header values must be strings' }).max(8192),
      { error: 'headers must be an object of string values' },
    )
    .refine((h) => Object.keys(h).length <= 64, 'headers may hold at most 64 entries')
    .optional(),
});

/** What callers may pass in: `id`, `occurredAt`, `payload` and `headers` are optional. */
export type EventInput = z.input<typeof eventSchema>;

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/** A validated, normalized event. */
export interface DualEvent {
  id: string;
  type: string;
  sourceType: string;
  sourceId: string;
  occurredAt: string;
  payload: JsonValue;
  headers?: Record<string, string>;
}

/** Options of {@link parseEvent}. */
export interface ParseEventOptions {
  /** Serialized payload size limit. @defaultValue 1 MiB */
  maxPayloadBytes?: number;
  /** Clock for the `occurredAt` default (tests). */
  now?: () => Date;
  /** Id generator for events without an id. @defaultValue UUIDv7 */
  generateId?: () => string;
}

/** Result of {@link safeParseEvent}. */
export type ParseEventResult =
  { success: true; event: DualEvent } | { success: false; error: EventValidationError };

/** Validate and normalize one event; never throws. */
export function safeParseEvent(input: unknown, options: ParseEventOptions = {}): ParseEventResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return fail([{ path: '', code: 'invalid_type', message: 'event must be a JSON object' }]);
  }
  // Check depth before zod walks the payload recursively: a hostile, deeply nested payload
  // must give a readable error, not a stack overflow.
  const depth = jsonDepthExceeds((input as { payload?: unknown }).payload, MAX_PAYLOAD_DEPTH);
  if (depth) {
    return fail([
      {
        path: 'payload',
        code: 'too_big',
        message: `payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`,
      },
    ]);
  }
  const parsed = eventSchema.safeParse(input);
  if (!parsed.success) {
    return fail(
      parsed.error.issues.map((i) => ({
        path: i.path.map(String).join('.'),
        code: i.code,
        message: i.message,
      })),
    );
  }
  const data = parsed.data;
  const payload = (data.payload ?? null) as JsonValue;
  const max = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const size = Buffer.byteLength(JSON.stringify(payload));
  if (size > max) {
    return fail([
      {
        path: 'payload',
        code: 'too_big',
        message: `payload is ${size} bytes; the limit is ${max} bytes`,
      },
    ]);
  }
  const event: DualEvent = {
    id: data.id ?? (options.generateId ?? uuidv7)(),
    type: data.type,
    sourceType: data.sourceType,
    sourceId: data.sourceId,
    occurredAt: data.occurredAt ?? (options.now?.() ?? new Date()).toISOString(),
    payload,
  };
  if (data.headers) event.headers = data.headers;
  return { success: true, event };
}

/** Validate and normalize one event; throws {@link EventValidationError}. */
export function parseEvent(input: unknown, options: ParseEventOptions = {}): DualEvent {
  const r = safeParseEvent(input, options);
  if (!r.success) throw r.error;
  return r.event;
}

function fail(issues: EventIssue[]): ParseEventResult {
  return { success: false, error: new EventValidationError(issues) };
}

/** Iterative depth check, so that the check itself cannot overflow the stack. */
function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}
