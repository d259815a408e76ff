import { describe, expect, it } from 'vitest';
import { sourceOf } from '../../src/server/board.js';

describe('sourceOf (the board list shows `type — sourceType/sourceId`)', () => {
  it('reads the source of an event, with or without the receipt the worker records', () => {
    const event = { id: 'e1', type: 'push', sourceType: 'repo', sourceId: 'acme/api' };
    expect(sourceOf(event)).toBe('repo/acme/api');
    expect(sourceOf({ ...event, receipt: { topic: 'events', partition: 0, offset: '1' } })).toBe(
      'repo/acme/api',
    );
  });

  it('has no source for other data: claim jobs, invalid events, nothing at all', () => {
    expect(sourceOf({ stream: 'orders', fence: 3, reason: 'expired' })).toBeUndefined();
    expect(sourceOf({ sourceType: 'repo' })).toBeUndefined();
    expect(sourceOf({ event: { sourceType: 'repo', sourceId: 'x' } })).toBeUndefined();
    expect(sourceOf(null)).toBeUndefined();
    expect(sourceOf('text')).toBeUndefined();
  });
});
