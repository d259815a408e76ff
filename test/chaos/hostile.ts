import fc from 'fast-check';
import { safeParseEvent } from '../../src/events/index.js';

/**
 * Hostile input: generated with fast-check so that every run tries many shapes, reproducible
 * from the seed printed in the report. Every input carries a marker (`__chaosHostile` in the
 * payload, `chaos.hostile` in the type, or the marker text itself) wherever the mutation leaves
 * room for one, so that a leak into Kafka is recognisable even before the id and schema checks.
 */

/** Text that never occurs in a valid chaos event; its presence in a Kafka record is a leak. */
export const HOSTILE_MARK = '__chaosHostile';

/** What is wrong with an input (the label in the report). */
export type HostileKind =
  | 'wrong-type'
  | 'huge-string'
  | 'bad-characters'
  | 'deep-nesting'
  | 'missing-field'
  | 'empty-string'
  | 'oversized-payload'
  | 'integer-id'
  | 'bad-date'
  | 'bad-headers'
  | 'not-an-object';

type Mutation =
  | { kind: HostileKind; op: 'set'; field: string; value: unknown }
  | { kind: HostileKind; op: 'delete'; field: string }
  | { kind: 'not-an-object'; op: 'replace'; value: unknown };

/** One invalid event value (what a producer would pass as job data or JSON body). */
export interface HostileEvent {
  kind: HostileKind;
  marker: string;
  value: unknown;
}

const BAD_CHARS = [
  ' ',
  '\t',
  '\n',
  '\r',
  ':',
  '*',
  '?',
  '[',
  ']',
  '\\',
  '\u0000',
  '\u001f',
  '\u007f',
];
const word = fc.string({
  minLength: 1,
  maxLength: 12,
  unit: fc.constantFrom(...'abcdefghijklmnop/._-0123456789'),
});

function nest(depth: number, leaf: unknown, useArrays: boolean): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = useArrays && i % 2 === 0 ? [v] : { d: v };
  return v;
}

function mutationArb(maxPayloadBytes: number): fc.Arbitrary<Mutation> {
  const wrongValue = fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(word, { maxLength: 3 }),
    fc.constant({ nested: { object: true } }),
  );
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('wrong-type' as const),
        op: fc.constant('set' as const),
        field: fc.constantFrom('id', 'type', 'sourceType', 'sourceId', 'occurredAt', 'headers'),
        value: wrongValue,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('huge-string' as const),
        op: fc.constant('set' as const),
        field: fc.constantFrom('id', 'type', 'sourceType', 'sourceId'),
        value: fc
          .tuple(word, fc.integer({ min: 300, max: 20_000 }))
          .map(([w, n]) => w + 'x'.repeat(n)),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('bad-characters' as const),
        op: fc.constant('set' as const),
        field: fc.constantFrom('sourceType', 'sourceId', 'sourceId', 'type', 'id'),
        value: fc
          .tuple(word, fc.constantFrom(...BAD_CHARS), word)
          .map(([a, c, b]) => `${a}${c}${b}`),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('deep-nesting' as const),
        op: fc.constant('set' as const),
        field: fc.constant('payload'),
        value: fc
          .tuple(fc.integer({ min: 65, max: 3000 }), fc.boolean())
          .map(([depth, arrays]) => nest(depth, { [HOSTILE_MARK]: true }, arrays)),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('missing-field' as const),
        op: fc.constant('delete' as const),
        field: fc.constantFrom('type', 'sourceType', 'sourceId'),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('empty-string' as const),
        op: fc.constant('set' as const),
        field: fc.constantFrom('id', 'type', 'sourceType', 'sourceId'),
        value: fc.constant(''),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('oversized-payload' as const),
        op: fc.constant('set' as const),
        field: fc.constant('payload'),
        value: fc
          .integer({ min: 1, max: 4096 })
          .map((extra) => ({ [HOSTILE_MARK]: 'x'.repeat(maxPayloadBytes + extra) })),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('integer-id' as const),
        op: fc.constant('set' as const),
        field: fc.constant('id'),
        value: fc.nat().map(String),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bad-date' as const),
        op: fc.constant('set' as const),
        field: fc.constant('occurredAt'),
        value: fc.constantFrom(
          'yesterday',
          '2024-13-45T00:00:00Z',
          '1700000000000',
          '2024-01-01 10:00',
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bad-headers' as const),
        op: fc.constant('set' as const),
        field: fc.constant('headers'),
        value: fc.oneof(
          fc.constant({ traceparent: 42 }),
          fc.constant({ '': 'empty key' }),
          fc.constant(Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`h${i}`, 'v']))),
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('not-an-object' as const),
        op: fc.constant('replace' as const),
        value: fc.oneof(
          word,
          fc.integer(),
          fc.constant(null),
          fc.boolean(),
          fc.array(word, { maxLength: 3 }),
        ),
      }),
    },
  ) as fc.Arbitrary<Mutation>;
}

function apply(m: Mutation, marker: string): unknown {
  if (m.op === 'replace') {
    // Keep the marker visible wherever the shape allows it.
    if (typeof m.value === 'string') return `${HOSTILE_MARK}:${marker}:${m.value}`;
    if (Array.isArray(m.value)) return [`${HOSTILE_MARK}:${marker}`, ...m.value];
    return m.value;
  }
  const base: Record<string, unknown> = {
    id: `bad-${marker}`,
    type: `chaos.hostile.${marker}`,
    sourceType: 'chaos',
    sourceId: 'hostile',
    payload: { [HOSTILE_MARK]: marker },
    headers: { 'x-chaos-hostile': marker },
  };
  if (m.op === 'delete') delete base[m.field];
  else base[m.field] = m.value;
  return base;
}

/**
 * `count` invalid events, reproducible from `seed`. Each one is checked against the product's own
 * schema: a generated value the schema accepts is not hostile and is dropped (counted in
 * `discardedValid`), so that every input in the list must be rejected.
 */
export function generateHostileEvents(
  count: number,
  seed: number,
  markerPrefix: string,
  maxPayloadBytes: number,
): { events: HostileEvent[]; discardedValid: number } {
  const mutations = fc.sample(mutationArb(maxPayloadBytes), { numRuns: count, seed });
  const events: HostileEvent[] = [];
  let discardedValid = 0;
  mutations.forEach((m, i) => {
    const marker = `${markerPrefix}-${i}`;
    const value = apply(m, marker);
    if (safeParseEvent(value, { maxPayloadBytes }).success) {
      discardedValid += 1;
      return;
    }
    events.push({ kind: m.kind, marker, value });
  });
  return { events, discardedValid };
}

/** A raw HTTP body that must be refused (400 / 413 / 415), with what is wrong with it. */
export interface HostileBody {
  kind: string;
  marker: string;
  body: string;
  contentType: string;
  /** Statuses that count as a correct refusal. */
  expect: number[];
  /** Ids of otherwise valid events inside the body, which must not reach Kafka either. */
  innocentIds: string[];
}

/**
 * Raw bodies for `POST /v1/events`: malformed JSON, wrong content type, oversized bodies, empty
 * arrays, arrays of invalid events, and arrays mixing valid and invalid events (all or nothing:
 * the valid ones must not be enqueued).
 */
export function generateHostileBodies(
  count: number,
  seed: number,
  markerPrefix: string,
  options: { maxPayloadBytes: number; bodyLimitBytes: number },
): HostileBody[] {
  const { events } = generateHostileEvents(
    count,
    seed,
    `${markerPrefix}e`,
    options.maxPayloadBytes,
  );
  const shapes = fc.sample(fc.integer({ min: 0, max: 99 }), {
    numRuns: events.length,
    seed: seed + 1,
  });
  const junk = fc.sample(fc.string({ maxLength: 40 }), { numRuns: events.length, seed: seed + 2 });
  return events.map((ev, i): HostileBody => {
    const shape = shapes[i] ?? 0;
    const marker = ev.marker;
    if (shape < 12) {
      const body = `{"type":"${HOSTILE_MARK}:${marker}", ${JSON.stringify(junk[i] ?? '')}`;
      return {
        kind: 'malformed-json',
        marker,
        body,
        contentType: 'application/json',
        expect: [400],
        innocentIds: [],
      };
    }
    if (shape < 16) {
      return {
        kind: 'wrong-content-type',
        marker,
        body: JSON.stringify(ev.value),
        contentType: 'text/plain',
        expect: [415],
        innocentIds: [],
      };
    }
    if (shape < 18) {
      const body = JSON.stringify({
        type: 'chaos.hostile',
        sourceType: 'chaos',
        sourceId: 'oversized',
        payload: { [HOSTILE_MARK]: 'x'.repeat(options.bodyLimitBytes + 1024) },
      });
      return {
        kind: 'oversized-body',
        marker,
        body,
        contentType: 'application/json',
        expect: [413],
        innocentIds: [],
      };
    }
    if (shape < 20) {
      return {
        kind: 'empty-array',
        marker,
        body: '[]',
        contentType: 'application/json',
        expect: [400],
        innocentIds: [],
      };
    }
    if (shape < 30) {
      const innocent = {
        id: `innocent-${marker}`,
        type: 'chaos.innocent',
        sourceType: 'chaos',
        sourceId: 'innocent',
        payload: { [HOSTILE_MARK]: marker, innocent: true },
      };
      return {
        kind: 'mixed-array',
        marker,
        body: JSON.stringify([innocent, ev.value]),
        contentType: 'application/json',
        expect: [400],
        innocentIds: [innocent.id],
      };
    }
    return {
      kind: `event:${ev.kind}`,
      marker,
      body: JSON.stringify(ev.value),
      contentType: 'application/json',
      expect: [400],
      innocentIds: [],
    };
  });
}

/** A data-stream entry that must not reach Kafka: field/value pairs for XADD. */
export interface HostileEntry {
  kind: string;
  marker: string;
  fields: string[];
}

/** Stream entries: invalid JSON text, invalid events, no `event` field, empty `event`. */
export function generateHostileEntries(
  count: number,
  seed: number,
  markerPrefix: string,
  maxPayloadBytes: number,
): HostileEntry[] {
  const { events } = generateHostileEvents(count, seed, `${markerPrefix}s`, maxPayloadBytes);
  const shapes = fc.sample(fc.integer({ min: 0, max: 99 }), {
    numRuns: events.length,
    seed: seed + 3,
  });
  return events.map((ev, i): HostileEntry => {
    const shape = shapes[i] ?? 0;
    if (shape < 15) {
      return {
        kind: 'malformed-json',
        marker: ev.marker,
        fields: ['event', `{"type":"${HOSTILE_MARK}:${ev.marker}",`],
      };
    }
    if (shape < 22) {
      return {
        kind: 'no-event-field',
        marker: ev.marker,
        fields: ['evnt', JSON.stringify({ [HOSTILE_MARK]: ev.marker })],
      };
    }
    if (shape < 26) return { kind: 'empty-event', marker: ev.marker, fields: ['event', ''] };
    return {
      kind: `event:${ev.kind}`,
      marker: ev.marker,
      fields: ['event', JSON.stringify(ev.value)],
    };
  });
}
