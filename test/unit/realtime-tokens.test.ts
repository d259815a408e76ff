// Subscribe tokens, resume tokens, channel parsing and the SSE parser: pure functions, no
// services.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SseParser,
  SubscribeTokenError,
  channelSchema,
  createSubscribeToken,
  decodeResumeToken,
  encodeResumeToken,
  verifySubscribeToken,
} from '../../src/realtime/index.js';
import { channelAllowed } from '../../src/realtime/tokens.js';

const SECRET = 'unit-secret-0123456789abcdef-0123456789';

describe('subscribe tokens', () => {
  it('round-trips channels and expiry, refuses a wrong secret, a changed body and an expired token', () => {
    const now = Date.UTC(2026, 0, 1);
    const t = createSubscribeToken({
      secret: SECRET,
      channels: ['repo:a', 'org:*'],
      ttlSeconds: 60,
      now,
    });
    expect(verifySubscribeToken(t, SECRET, now)).toEqual({
      ok: true,
      channels: ['repo:a', 'org:*'],
      exp: now / 1000 + 60,
    });
    expect(verifySubscribeToken(t, `${SECRET}x`, now)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('signature'),
    });
    const [p, body, sig] = t.split('.');
    const forged = `${p}.${Buffer.from('{"c":["*:*"],"exp":9999999999}').toString('base64url')}.${sig}`;
    expect(verifySubscribeToken(forged, SECRET, now).ok).toBe(false);
    expect(verifySubscribeToken(`${p}.${body}.${sig}`, SECRET, now + 61_000)).toMatchObject({
      ok: false,
      reason: 'subscribe token expired',
    });
    expect(verifySubscribeToken('nonsense', SECRET, now).ok).toBe(false);
  });

  it('rejects bad options with specific errors', () => {
    expect(() => createSubscribeToken({ secret: 'short', channels: ['a:b'] })).toThrow(
      SubscribeTokenError,
    );
    expect(() => createSubscribeToken({ secret: SECRET, channels: [] })).toThrow(/at least one/);
    expect(() => createSubscribeToken({ secret: SECRET, channels: ['bad chan'] })).toThrow(
      /sourceType/,
    );
    expect(() =>
      createSubscribeToken({ secret: SECRET, channels: ['a:b'], ttlSeconds: 0 }),
    ).toThrow(/ttlSeconds/);
  });

  it('a <type>:* entry covers the sources of the type, not other types, and an exact entry only itself', () => {
    const parse = (c: string) => channelSchema.parse(c);
    expect(channelAllowed(parse('repo:a'), ['repo:*'])).toBe(true);
    expect(channelAllowed(parse('repo:*'), ['repo:*'])).toBe(true);
    expect(channelAllowed(parse('repo:*'), ['repo:a'])).toBe(false);
    expect(channelAllowed(parse('org:a'), ['repo:*'])).toBe(false);
    expect(channelAllowed(parse('repo:b'), ['repo:a'])).toBe(false);
  });
});

describe('channels and resume tokens', () => {
  it('parses source and aggregate channels and names the fault in bad ones', () => {
    expect(channelSchema.parse('repo:acme/api')).toEqual({
      kind: 'source',
      name: 'repo:acme/api',
      sourceType: 'repo',
      sourceId: 'acme/api',
    });
    expect(channelSchema.parse('repo:*')).toEqual({
      kind: 'type',
      name: 'repo:*',
      sourceType: 'repo',
    });
    for (const bad of ['repo', ':a', 'repo:', 'repo:a*', 're po:a', 'repo:a?b']) {
      expect(channelSchema.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('resume tokens round-trip any positions; anything else decodes to undefined', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.string({ minLength: 1, maxLength: 20 }),
            fc.oneof(
              fc.nat(),
              fc
                .tuple(fc.nat(), fc.nat(), fc.stringMatching(/^[0-9a-f]{0,32}$/))
                .map(([a, b, e]) => `${a}-${b}@${e}`),
            ),
          ),
        ),
        (pairs) => {
          const token = encodeResumeToken(pairs);
          expect(decodeResumeToken(token)).toEqual(new Map(pairs));
        },
      ),
    );
    for (const bad of [
      '',
      'r1.',
      'r1.!!!',
      'x1.W10',
      encodeResumeToken([['a', -1]]),
      `r1.${Buffer.from('{"a":1}').toString('base64url')}`,
    ]) {
      expect(decodeResumeToken(bad), bad).toBeUndefined();
    }
  });
});

describe('SSE parser', () => {
  const stream =
    'retry: 1000\n\n: comment\n\nid: t1\ndata: {"a":1}\n\nevent: reset\ndata: x\ndata: y\n\nid: t2\r\ndata: z\r\n\r\n';

  it('parses events, ids, multi-line data, comments, CRLF, whatever the chunking', () => {
    const expected = [
      { event: 'message', data: '{"a":1}', lastEventId: 't1' },
      { event: 'reset', data: 'x\ny', lastEventId: 't1' },
      { event: 'message', data: 'z', lastEventId: 't2' },
    ];
    fc.assert(
      fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 8 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const parser = new SseParser();
        const out = [];
        let at = 0;
        for (const p of [...points, stream.length]) {
          out.push(...parser.push(stream.slice(at, p)));
          at = p;
        }
        expect(out).toEqual(expected);
        expect(parser.retry).toBe(1000);
      }),
    );
  });
});
