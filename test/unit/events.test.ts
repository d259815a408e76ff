import { describe, expect, it } from 'vitest';
import {
  EventValidationError,
  channelFor,
  kafkaHeadersFor,
  notificationMessage,
  parseEvent,
  safeParseEvent,
  toRecord,
} from '../../src/index.js';
import { parseBatch, validateBatch } from '../../src/events/index.js';

const valid = { type: 'push', sourceType: 'repo', sourceId: 'owner/repo', payload: { n: 1 } };

function issuesOf(input: unknown, maxPayloadBytes?: number) {
  const r = safeParseEvent(input, maxPayloadBytes === undefined ? {} : { maxPayloadBytes });
  if (r.success) throw new Error('expected the event to be rejected');
  expect(r.error).toBeInstanceOf(EventValidationError);
  return r.error.issues;
}

describe('event schema', () => {
  it('normalizes a minimal event: generated UUIDv7 id, occurredAt now', () => {
    const now = new Date('2026-01-02T03:04:05.000Z');
    const e = parseEvent({ type: 'push', sourceType: 'repo', sourceId: 'a/b' }, { now: () => now });
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.occurredAt).toBe(now.toISOString());
    expect(e.payload).toBeNull();
  });

  it('keeps a given id, time, payload and headers', () => {
    const e = parseEvent({
      ...valid,
      id: 'evt-1',
      occurredAt: '2026-01-01T00:00:00+02:00',
      headers: { traceparent: '00-abc-def-01' },
    });
    expect(e).toMatchObject({ id: 'evt-1', occurredAt: '2026-01-01T00:00:00+02:00' });
    expect(e.headers).toEqual({ traceparent: '00-abc-def-01' });
  });

  it.each([
    ['a colon', 'owner:repo'],
    ['a space', 'owner repo'],
    ['a star', 'owner/*'],
    ['a question mark', 'owner/?'],
    ['brackets', 'owner/[ab]'],
    ['a backslash', 'owner\\repo'],
    ['a control character', 'owner\u0007repo'],
    ['nothing', ''],
  ])('rejects a sourceId with %s', (_what, sourceId) => {
    const issues = issuesOf({ ...valid, sourceId });
    expect(issues[0]?.path).toBe('sourceId');
  });

  it('rejects wrong types with the path of each field', () => {
    const issues = issuesOf({
      type: 42,
      sourceType: ['repo'],
      sourceId: 'x',
      occurredAt: 'yesterday',
    });
    expect(issues.map((i) => i.path).sort()).toEqual(['occurredAt', 'sourceType', 'type']);
  });

  it('rejects ids BullMQ cannot use', () => {
    expect(issuesOf({ ...valid, id: 'a:b' })[0]?.message).toContain(':');
    expect(issuesOf({ ...valid, id: '12345' })[0]?.message).toContain('integer');
  });

  it('rejects non-objects and non-JSON payloads', () => {
    expect(issuesOf('{"type":"push"}')[0]?.message).toBe('event must be a JSON object');
    expect(issuesOf([valid])[0]?.message).toBe('event must be a JSON object');
    expect(issuesOf({ ...valid, payload: () => 1 })[0]?.path).toBe('payload');
    expect(issuesOf({ ...valid, payload: { n: Number.NaN } })[0]?.path).toMatch(/^payload/);
  });

  it('limits payload size and depth with a readable reason', () => {
    const big = issuesOf({ ...valid, payload: 'x'.repeat(2000) }, 1000);
    expect(big[0]?.message).toBe('payload is 2002 bytes; the limit is 1000 bytes');
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(issuesOf({ ...valid, payload: deep })[0]?.message).toContain('deeper than 64');
  });

  it('builds the message of EventValidationError from every issue', () => {
    expect(() => parseEvent({ ...valid, sourceId: 'a b', type: '' })).toThrow(
      /Invalid event: .*sourceId: sourceId must not contain whitespace/,
    );
  });
});

describe('naming and codec', () => {
  const event = parseEvent({ ...valid, id: 'e1', headers: { 'event-id': 'spoofed', x: 'y' } });

  it('uses the source as Kafka key and channel, reserved headers win', () => {
    const rec = toRecord(event, 'events');
    expect(rec).toMatchObject({ topic: 'events', key: 'repo:owner/repo' });
    expect(JSON.parse(rec.value)).toEqual(event);
    expect(kafkaHeadersFor(event)).toEqual({
      x: 'y',
      'event-id': 'e1',
      'event-type': 'push',
      source: 'repo:owner/repo',
    });
    expect(channelFor(event)).toBe('events:repo:owner/repo');
    expect(toRecord(event, (e) => `t-${e.sourceType}`).topic).toBe('t-repo');
  });

  it('notifies with ids and the Kafka position, never the payload', () => {
    const { channel, message } = notificationMessage(
      event,
      { topic: 'events', partition: 2, offset: '41' },
      'ev',
    );
    expect(channel).toBe('ev:repo:owner/repo');
    expect(JSON.parse(message)).toEqual({
      id: 'e1',
      type: 'push',
      source_type: 'repo',
      source_id: 'owner/repo',
      topic: 'events',
      partition: 2,
      offset: '41',
    });
  });
});

describe('validateBatch / parseBatch', () => {
  const good = { type: 't', sourceType: 'a', sourceId: 'b' };
  it('returns the valid events and every invalid input by its index', () => {
    const r = validateBatch([good, { type: 't' }, 7, good]);
    expect(r.events).toHaveLength(2);
    expect(r.indexes).toEqual([0, 3]);
    expect(r.rejected.map((x) => x.index)).toEqual([1, 2]);
    expect(r.rejected[0]?.issues.map((i) => i.path)).toEqual(['sourceType', 'sourceId']);
    expect(r.rejected[1]?.issues).toEqual([
      { path: '', code: 'invalid_type', message: 'event must be a JSON object' },
    ]);
  });

  it('parseBatch is all or nothing: one error whose paths carry the index', () => {
    expect(parseBatch([good, good])).toHaveLength(2);
    let caught: unknown;
    try {
      parseBatch([good, 7, { ...good, sourceId: 'a b' }]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EventValidationError);
    expect((caught as EventValidationError).issues.map((i) => i.path)).toEqual([
      '[1]',
      '[2].sourceId',
    ]);
  });
});
