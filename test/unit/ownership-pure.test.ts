// Pure parts of stream ownership: key naming, LBS entry parsing, keyspace flag merging, event id
// derivation and the entry-to-job mapping.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeParseEvent } from '../../src/events/index.js';
import { OwnershipError } from '../../src/errors.js';
import {
  claimJobId,
  lbsGroup,
  lbsKey,
  lbsPayload,
  lockKey,
  mergeKeyspaceFlags,
  metaKey,
  ownershipQueueName,
  parseLbsEntry,
} from '../../src/ownership/index.js';
import { deriveEventId, entryToPublishJob, ingestGroup } from '../../src/ingest/index.js';
import { expiredChannel, streamOfLockKey } from '../../src/ownership/keys.js';
import { NotificationStream } from '../../src/ownership/notification-stream.js';
import { parseGroupConsumers, streamReply } from '../../src/ownership/stream-reply.js';

describe('ownership key names', () => {
  it('follows the redis-stream-client-go producer contract', () => {
    expect(lbsKey('svc')).toBe('svc-input');
    expect(lbsGroup('svc')).toBe('svc-group');
    expect(lbsPayload('orders-1', { a: 1 })).toBe('{"DataStreamName":"orders-1","Info":{"a":1}}');
  });

  it('names our own keys under the service and maps lock keys back to streams', () => {
    expect(ingestGroup('svc')).toBe('svc-ingest');
    expect(ownershipQueueName('svc')).toBe('svc-ownership');
    expect(lockKey('svc', 'a:b')).toBe('svc-lock:a:b');
    expect(metaKey('svc', 'a:b')).toBe('svc-meta:a:b');
    expect(streamOfLockKey('svc', 'svc-lock:a:b')).toBe('a:b');
    expect(streamOfLockKey('svc', 'other-lock:a')).toBeUndefined();
    expect(streamOfLockKey('svc', 'svc-lock:')).toBeUndefined();
    expect(expiredChannel(3)).toBe('__keyevent@3__:expired');
  });

  it('computes Redis Cluster slots as Redis does (the check below relies on it)', () => {
    // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
    expect(crc16('123456789')).toBe(0x31c3);
    expect(clusterSlot('foo')).toBe(12182);
    expect(clusterSlot('{user1000}.following')).toBe(clusterSlot('{user1000}.followers'));
    expect(clusterSlot('foo{}{bar}')).toBe(crc16('foo{}{bar}') % 16384);
  });

  it("puts the lock and meta keys of a hash-tagged stream in the stream's cluster slot", () => {
    const service = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
    const tag = fc.string({ minLength: 1, maxLength: 12 }).filter((t) => !t.includes('}'));
    fc.assert(
      fc.property(service, tag, fc.string({ maxLength: 20 }), (svc, t, rest) => {
        const stream = `{${t}}${rest}`;
        const slot = clusterSlot(stream);
        expect(clusterSlot(lockKey(svc, stream))).toBe(slot);
        expect(clusterSlot(metaKey(svc, stream))).toBe(slot);
      }),
    );
  });

  it("on Redis Cluster puts every stream's lock and meta in its slot, one key per name, and back", () => {
    const service = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
    const tagged = fc
      .tuple(
        fc.string({ maxLength: 8 }).filter((t) => !t.includes('{')),
        fc.string({ minLength: 1, maxLength: 8 }).filter((t) => !t.includes('}')),
        fc.string({ maxLength: 8 }),
      )
      .map(([a, t, b]) => `${a}{${t}}${b}`);
    const untagged = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('}'));
    fc.assert(
      fc.property(service, fc.oneof(tagged, untagged), (svc, stream) => {
        const lock = lockKey(svc, stream, true);
        expect(clusterSlot(lock)).toBe(clusterSlot(stream));
        expect(clusterSlot(metaKey(svc, stream, true))).toBe(clusterSlot(stream));
        expect(streamOfLockKey(svc, lock, true)).toBe(stream);
      }),
    );
    // A tagged name and the bare name inside its tag are two streams, with two locks.
    expect(lockKey('svc', '{orders}', true)).toBe('svc-lock:{orders}:{orders}');
    expect(lockKey('svc', 'orders', true)).toBe('svc-lock:{orders}:orders');
    expect(lockKey('svc', 'orders')).toBe('svc-lock:orders');
    expect(streamOfLockKey('svc', 'svc-lock:orders', true)).toBeUndefined();
    expect(() => lockKey('svc', 'a}b', true)).toThrow(OwnershipError);
    expect(() => lockKey('svc', 'a{}b}', true)).toThrow(/hash tag/);
  });

  it('claim job ids carry no ":" and never collide between streams', () => {
    expect(claimJobId('a:b', 3)).toBe('claim-a%3Ab-3');
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.nat(), (a, b, n) => {
        expect(claimJobId(a, n)).not.toContain(':');
        if (a !== b) expect(claimJobId(a, n)).not.toBe(claimJobId(b, n));
      }),
    );
  });
});

describe('parseLbsEntry', () => {
  it('reads DataStreamName and Info', () => {
    expect(parseLbsEntry('1-0', ['lbs-input', '{"DataStreamName":"s","Info":{"k":"v"}}'])).toEqual({
      lbsId: '1-0',
      stream: 's',
      info: { k: 'v' },
    });
    expect(parseLbsEntry('1-0', ['x', 'y', 'lbs-input', '{"DataStreamName":"s"}']).info).toEqual(
      {},
    );
  });

  it.each([
    [null, /no "lbs-input" field/],
    [['other', '{}'], /no "lbs-input" field/],
    [['lbs-input', 'nope'], /not JSON/],
    [['lbs-input', '[1]'], /not a JSON object/],
    [['lbs-input', '{"DataStreamName":""}'], /DataStreamName must be a non-empty string/],
    [['lbs-input', '{"DataStreamName":"s","Info":3}'], /Info must be a JSON object/],
  ])('rejects %j with a readable reason', (fields, message) => {
    expect(() => parseLbsEntry('9-0', fields)).toThrow(OwnershipError);
    expect(() => parseLbsEntry('9-0', fields)).toThrow(message);
  });
});

describe('mergeKeyspaceFlags', () => {
  it.each([
    ['', 'Ex'],
    ['xE', 'xE'],
    ['KEA', 'KEA'],
    ['Kg', 'KgEx'],
    ['Elg', 'Elgx'],
    ['Kx', 'KxE'],
  ])('adds what is missing to %j, keeping every flag', (current, merged) => {
    expect(mergeKeyspaceFlags(current)).toBe(merged);
  });
});

describe('deriveEventId', () => {
  it('is <stream>-<entryId>, stable, with ":" escaped', () => {
    expect(deriveEventId('orders', '1700000000000-0')).toBe('orders-1700000000000-0');
    expect(deriveEventId('repo:a/b', '1-2')).toBe('repo%3Aa/b-1-2');
    expect(deriveEventId('repo:a/b', '1-2')).toBe(deriveEventId('repo:a/b', '1-2'));
  });

  it('always gives a valid, distinct event id', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 400 }),
        fc.string({ minLength: 1, maxLength: 400 }),
        (a, b) => {
          const id = deriveEventId(a, '1700000000000-7');
          expect(id.length).toBeLessThanOrEqual(200);
          const parsed = safeParseEvent({ id, type: 't', sourceType: 's', sourceId: 'x' });
          expect(parsed.success).toBe(true);
          if (a !== b) expect(deriveEventId(b, '1700000000000-7')).not.toBe(id);
        },
      ),
    );
  });
});

describe('entryToPublishJob', () => {
  const event = { type: 'push', sourceType: 'repo', sourceId: 'o/r', payload: { n: 1 } };

  it('gives an event without id the derived id as event id and job id', () => {
    const job = entryToPublishJob('s', '5-0', ['event', JSON.stringify(event)]);
    expect(job).toMatchObject({ name: 'push', jobId: 's-5-0', data: { ...event, id: 's-5-0' } });
    expect(job.invalid).toBeUndefined();
  });

  it('keeps the event’s own id', () => {
    const job = entryToPublishJob('s', '5-0', ['event', JSON.stringify({ ...event, id: 'ev-1' })]);
    expect(job).toMatchObject({ jobId: 'ev-1', data: { id: 'ev-1' } });
  });

  it.each([
    [['other', 'x'], /no "event" field/, 'invalid-event'],
    [['event', '{not json'], /not JSON/, 'invalid-event'],
    [['event', '42'], /not a JSON object/, 'invalid-event'],
    [['event', JSON.stringify({ ...event, sourceId: 'a b' })], /sourceId/, 'push'],
    [['event', JSON.stringify({ ...event, id: 'a:b' })], /id must not contain/, 'push'],
  ])(
    'still makes a job of an invalid entry %j, so the worker fails it visibly',
    (fields, reason, name) => {
      const job = entryToPublishJob('s', '6-0', fields);
      expect(job.invalid).toMatch(reason);
      expect(job.name).toBe(name);
      expect(job.jobId).not.toContain(':');
      // No usable event id in any of these: the derived one keeps re-reads idempotent.
      expect(job.jobId).toBe('s-6-0');
    },
  );
});

describe('streamReply', () => {
  it('accepts RESP2 pairs, RESP3 flat maps, Maps and null', () => {
    const entries = [['1-0', ['f', 'v']]];
    expect(streamReply([['s', entries]])).toEqual([['s', entries]]);
    expect(streamReply(['s', entries, 't', []])).toEqual([
      ['s', entries],
      ['t', []],
    ]);
    expect(streamReply(new Map([['s', entries]]))).toEqual([['s', entries]]);
    expect(streamReply(null)).toEqual([]);
  });
});

describe('parseGroupConsumers', () => {
  it('reads XINFO CONSUMERS as flat field lists or objects', () => {
    expect(parseGroupConsumers([['name', 'c', 'pending', 3, 'idle', 12, 'inactive', 5]])).toEqual([
      { name: 'c', pending: 3, idle: 12 },
    ]);
    expect(parseGroupConsumers([{ name: 'd', pending: '2', idle: '7' }])).toEqual([
      { name: 'd', pending: 2, idle: 7 },
    ]);
    expect(parseGroupConsumers(null)).toEqual([]);
  });
});

describe('NotificationStream', () => {
  it('delivers in order, drops the oldest when full, and ends', async () => {
    const s = new NotificationStream<number>(2);
    s.push(1);
    s.push(2);
    s.push(3);
    expect(s.dropped).toBe(1);
    expect(await s.next()).toEqual({ value: 2, done: false });
    expect(await s.next()).toEqual({ value: 3, done: false });
    const waiting = s.next();
    s.push(4);
    expect(await waiting).toEqual({ value: 4, done: false });
    const pending = s.next();
    await s.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    s.push(5);
    expect(await s.next()).toEqual({ value: undefined, done: true });
  });
});

/** CRC16-XMODEM, the checksum Redis Cluster uses for key slots. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The cluster slot of a key: the hash tag (first `{...}` with content) when it has one. */
function clusterSlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % 16384;
  }
  return crc16(key) % 16384;
}
