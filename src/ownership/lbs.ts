import type { Redis } from 'ioredis';
import { OwnershipError } from '../errors.js';
import { LBS_FIELD, lbsKey } from './keys.js';

/** Free-form information a producer attaches to a data stream (the Go library's `Info`). */
export type StreamInfo = Record<string, unknown>;

/** A data stream registered in the load-balancer stream. */
export interface LbsEntry {
  /** Id of the entry in the LBS (`<ms>-<seq>`). */
  lbsId: string;
  /** Name of the data stream (`DataStreamName`). */
  stream: string;
  /** The producer's `Info` object (`{}` when absent). */
  info: StreamInfo;
}

/**
 * Register a data stream for ingestion, exactly as a redis-stream-client-go producer would:
 * `XADD <service>-input * lbs-input '{"DataStreamName": name, "Info": info}'`.
 * Returns the id of the LBS entry.
 */
export async function addStream(
  redis: Redis,
  service: string,
  name: string,
  info: StreamInfo = {},
): Promise<string> {
  const id = await redis.xadd(lbsKey(service), '*', LBS_FIELD, lbsPayload(name, info));
  if (id === null) throw new OwnershipError(`XADD to ${lbsKey(service)} returned no id`);
  return id;
}

/** Register many data streams in one pipeline; returns their LBS entry ids in order. */
export async function addStreams(
  redis: Redis,
  service: string,
  streams: ReadonlyArray<{ name: string; info?: StreamInfo }>,
): Promise<string[]> {
  const ids: string[] = [];
  // Chunks keep a single pipeline's reply buffer small for very large registrations.
  for (let i = 0; i < streams.length; i += 1000) {
    const pipeline = redis.pipeline();
    for (const s of streams.slice(i, i + 1000)) {
      pipeline.xadd(lbsKey(service), '*', LBS_FIELD, lbsPayload(s.name, s.info ?? {}));
    }
    const results = (await pipeline.exec()) ?? [];
    for (const [err, id] of results) {
      if (err) throw new OwnershipError(`XADD to ${lbsKey(service)} failed`, { cause: err });
      ids.push(String(id));
    }
  }
  return ids;
}

/** The JSON stored in the `lbs-input` field. */
export function lbsPayload(name: string, info: StreamInfo = {}): string {
  if (name.length === 0) throw new OwnershipError('A data stream name must not be empty');
  return JSON.stringify({ DataStreamName: name, Info: info });
}

/**
 * Parse the fields of one LBS entry (a flat `[field, value, ...]` list as Redis returns it).
 * Throws {@link OwnershipError} naming what is wrong, so a bad producer is easy to find.
 */
export function parseLbsEntry(lbsId: string, fields: readonly string[] | null): LbsEntry {
  let raw: string | undefined;
  for (let i = 0; fields && i + 1 < fields.length; i += 2) {
    if (fields[i] === LBS_FIELD) raw = fields[i + 1];
  }
  if (raw === undefined) {
    throw new OwnershipError(`LBS entry ${lbsId} has no "${LBS_FIELD}" field`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new OwnershipError(`LBS entry ${lbsId}: "${LBS_FIELD}" is not JSON`, { cause: err });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new OwnershipError(`LBS entry ${lbsId}: "${LBS_FIELD}" is not a JSON object`);
  }
  const { DataStreamName: stream, Info: info } = parsed as Record<string, unknown>;
  if (typeof stream !== 'string' || stream.length === 0) {
    throw new OwnershipError(`LBS entry ${lbsId}: DataStreamName must be a non-empty string`);
  }
  const isObject = info !== null && typeof info === 'object' && !Array.isArray(info);
  if (info !== undefined && info !== null && !isObject) {
    throw new OwnershipError(`LBS entry ${lbsId}: Info must be a JSON object`);
  }
  return { lbsId, stream, info: isObject ? (info as StreamInfo) : {} };
}

/** The producer's `Info` of LBS entry `lbsId` (`{}` when the entry is gone or unreadable). */
export async function readLbsInfo(
  redis: Redis,
  service: string,
  lbsId: string,
): Promise<StreamInfo> {
  const found = (await redis.xrange(lbsKey(service), lbsId, lbsId))[0];
  if (!found) return {};
  try {
    return parseLbsEntry(found[0], found[1]).info;
  } catch {
    return {};
  }
}
