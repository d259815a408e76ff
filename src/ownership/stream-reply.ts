/** One stream's entries as XREAD/XREADGROUP return them: `[id, [field, value, ...] | null]`. */
export type StreamEntries = Array<[string, string[] | null]>;

/**
 * Normalize an XREAD/XREADGROUP reply to `[stream, entries]` pairs. Under RESP2 the reply is an
 * array of pairs; under RESP3 (ioredis 6's default) it is a map, which ioredis hands over as a
 * flat `[stream, entries, stream, entries, ...]` array (or a Map/object, depending on options).
 */
export function streamReply(reply: unknown): Array<[string, StreamEntries]> {
  if (reply === null || reply === undefined) return [];
  if (reply instanceof Map) return [...(reply as Map<string, StreamEntries>).entries()];
  if (!Array.isArray(reply)) {
    return Object.entries(reply as Record<string, StreamEntries>);
  }
  if (reply.length === 0) return [];
  if (typeof reply[0] === 'string') {
    const out: Array<[string, StreamEntries]> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      out.push([String(reply[i]), (reply[i + 1] ?? []) as StreamEntries]);
    }
    return out;
  }
  return reply as Array<[string, StreamEntries]>;
}

/** One consumer of a group, from XINFO CONSUMERS. */
export interface GroupConsumer {
  name: string;
  pending: number;
  /** Milliseconds since the consumer's last attempted interaction (read, claim). */
  idle: number;
}

/**
 * Parse an XINFO CONSUMERS reply: a list of `[field, value, ...]` arrays (RESP2, and RESP3 maps as
 * ioredis flattens them) or of objects / Maps.
 */
export function parseGroupConsumers(reply: unknown): GroupConsumer[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((item: unknown) => {
    let fields: Record<string, unknown> = {};
    if (Array.isArray(item)) {
      for (let i = 0; i + 1 < item.length; i += 2) fields[String(item[i])] = item[i + 1];
    } else if (item instanceof Map) {
      fields = Object.fromEntries(item as Map<string, unknown>);
    } else if (item !== null && typeof item === 'object') {
      fields = item as Record<string, unknown>;
    }
    return {
      name: String(fields.name ?? ''),
      pending: Number(fields.pending ?? 0),
      idle: Number(fields.idle ?? Infinity),
    };
  });
}
