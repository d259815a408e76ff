import { createHash } from 'node:crypto';
import { safeParseEvent } from '../events/index.js';

/** Consumer group the ingester creates on every data stream of service `service`. */
export function ingestGroup(service: string): string {
  return `${service}-ingest`;
}

/** Field of a data stream entry that holds the event JSON. */
export const EVENT_FIELD = 'event';

/** Event ids (and BullMQ job ids) are limited to this length by the event schema. */
const MAX_ID_LENGTH = 200;

/**
 * The event id of an entry that carries none: `<stream>-<entryId>`, so reading the same entry
 * again (after a crash or failover) gives the same BullMQ job id and the enqueue is a no-op.
 * Characters an event id may not hold (`:`, whitespace, control characters) and `%` are
 * percent-encoded, which keeps the mapping one-to-one. Over-long stream names are shortened with
 * a hash of the full name.
 */
export function deriveEventId(stream: string, entryId: string): string {
  const encoded = stream.replace(
    // eslint-disable-next-line no-control-regex
    /[%:\s\u0000-\u001f\u007f]/g,
    (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`,
  );
  const id = `${encoded}-${entryId}`;
  if (id.length <= MAX_ID_LENGTH) return id;
  const hash = createHash('sha256').update(stream).digest('hex').slice(0, 16);
  return `${encoded.slice(0, MAX_ID_LENGTH - entryId.length - hash.length - 2)}~${hash}-${entryId}`;
}

/** One publish job built from a data stream entry. */
export interface PublishJobSpec {
  /** Job name: the event type, or `invalid-event` when there is no usable type. */
  name: string;
  /** Job data: the normalized event, or what could be read of an invalid one. */
  data: unknown;
  /** BullMQ job id: the event id, or the derived id when the event has none (or an unusable one). */
  jobId: string;
  /** Why the event is invalid; the publish worker will fail the job with this kind of reason. */
  invalid?: string;
}

/** A valid BullMQ custom job id: no `:` and not an integer. */
function usableJobId(id: unknown): id is string {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    id.length <= MAX_ID_LENGTH &&
    !id.includes(':') &&
    !/^\d+$/.test(id)
  );
}

/**
 * Turn one data stream entry (`[field, value, ...]`) into a publish job. Invalid events are still
 * turned into jobs, on purpose: the publish worker validates and fails them at once with
 * `UnrecoverableError`, so they show up in Bull Board with their data and reason, where an
 * operator can see and fix them. Nothing is dropped silently.
 */
export function entryToPublishJob(
  stream: string,
  entryId: string,
  fields: readonly string[],
  options: { maxPayloadBytes?: number } = {},
): PublishJobSpec {
  const derived = deriveEventId(stream, entryId);
  let raw: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === EVENT_FIELD) raw = fields[i + 1];
  if (raw === undefined) {
    return {
      name: 'invalid-event',
      data: { id: derived, stream, entryId, fields: Object.fromEntries(pairs(fields)) },
      jobId: derived,
      invalid: `entry has no "${EVENT_FIELD}" field`,
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return {
      name: 'invalid-event',
      data: { id: derived, stream, entryId, raw },
      jobId: derived,
      invalid: `"${EVENT_FIELD}" is not JSON`,
    };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return {
      name: 'invalid-event',
      data: parsed,
      jobId: derived,
      invalid: 'event is not a JSON object',
    };
  }
  const input = parsed as Record<string, unknown>;
  const jobId = usableJobId(input.id) ? input.id : derived;
  const withId = input.id === undefined ? { ...input, id: derived } : input;
  const result = safeParseEvent(withId, options);
  if (result.success) return { name: result.event.type, data: result.event, jobId };
  return {
    name:
      typeof input.type === 'string' && input.type.length > 0 && input.type.length <= 128
        ? input.type
        : 'invalid-event',
    data: withId,
    jobId,
    invalid: result.error.message,
  };
}

function pairs(fields: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) out.push([fields[i] ?? '', fields[i + 1] ?? '']);
  return out;
}
