import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkAuthorization, hasCredentials, safeEqual } from '../../src/server/auth.js';
import { assertSecureBinding, isLoopbackHost } from '../../src/server/security.js';
import { ConfigError } from '../../src/errors.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const creds = { user: 'admin', password: 's3cret-pass', token: 'token-0123456789abcdef' };

describe('checkAuthorization', () => {
  it('accepts the right basic credentials and the right token', () => {
    expect(checkAuthorization(basic('admin', 's3cret-pass'), creds)).toBe(true);
    expect(checkAuthorization('Bearer token-0123456789abcdef', creds)).toBe(true);
    expect(checkAuthorization('bearer token-0123456789abcdef', creds)).toBe(true);
  });

  it('rejects missing, malformed and wrong credentials', () => {
    for (const h of [
      undefined,
      '',
      'Basic',
      'Basic bm9jb2xvbg==', // "nocolon"
      basic('admin', 's3cret-pas'),
      basic('admin', 's3cret-pass '),
      basic('Admin', 's3cret-pass'),
      'Bearer token-0123456789abcde',
      'Digest abc',
      `Bearer ${basic('admin', 's3cret-pass')}`,
    ]) {
      expect(checkAuthorization(h, creds), String(h)).toBe(false);
    }
  });

  it('does not accept a scheme that is not configured', () => {
    expect(checkAuthorization('Bearer x', { user: 'a', password: 'bbbbbbbb' })).toBe(false);
    expect(checkAuthorization(basic('a', 'b'), { token: 'tttttttttttttttt' })).toBe(false);
  });

  it('passwords containing ":" work (only the first colon separates)', () => {
    expect(checkAuthorization(basic('u', 'a:b:c'), { user: 'u', password: 'a:b:c' })).toBe(true);
  });

  it('safeEqual agrees with === for any strings, whatever their lengths', () => {
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => safeEqual(a, b) === (a === b)));
  });

  it('hasCredentials needs a full basic pair or a token', () => {
    expect(hasCredentials({})).toBe(false);
    expect(hasCredentials({ user: 'a' })).toBe(false);
    expect(hasCredentials({ user: 'a', password: 'b' })).toBe(true);
    expect(hasCredentials({ token: 't' })).toBe(true);
  });
});

describe('assertSecureBinding', () => {
  const server = (
    s: Partial<{ host: string; insecure: boolean; user: string; password: string; token: string }>,
  ) => ({
    server: {
      host: '127.0.0.1',
      port: 3000,
      insecure: false,
      extraQueues: [],
      bodyLimitBytes: 1024,
      ...s,
    },
  });

  it('refuses to start without credentials, naming what to set', () => {
    expect(() => assertSecureBinding(server({}))).toThrow(ConfigError);
    expect(() => assertSecureBinding(server({}))).toThrow(
      /BOARD_USER and BOARD_PASSWORD.*BOARD_TOKEN/,
    );
  });

  it('allows insecure mode on loopback only', () => {
    expect(() => assertSecureBinding(server({ insecure: true }))).not.toThrow();
    expect(() => assertSecureBinding(server({ insecure: true, host: '::1' }))).not.toThrow();
    expect(() => assertSecureBinding(server({ insecure: true, host: '0.0.0.0' }))).toThrow(
      /only allowed on a loopback host, but HOST is "0.0.0.0"/,
    );
  });

  it('allows any host with credentials', () => {
    expect(() =>
      assertSecureBinding(server({ host: '0.0.0.0', token: 'x'.repeat(16) })),
    ).not.toThrow();
  });

  it('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1'])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});
