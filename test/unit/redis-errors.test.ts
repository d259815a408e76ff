import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isTransientRedisError } from '../../src/redis.js';

describe('isTransientRedisError', () => {
  it('recognises what ioredis raises while a connection or a cluster slot is away', () => {
    for (const err of [
      new Error('Connection is closed.'),
      new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 5354 127.0.0.1:7000'),
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      new Error('Reached the max retries per request limit (which is 3).'),
      new Error('Failed to refresh slots cache.'),
      new ReplyError('CLUSTERDOWN The cluster is down'),
      new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot'),
      new ReplyError('LOADING Redis is loading the dataset in memory'),
      new ReplyError("READONLY You can't write against a read only replica."),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    ]) {
      expect(isTransientRedisError(err), err.message).toBe(true);
    }
  });

  it('leaves errors about the command or the data alone', () => {
    for (const err of [
      new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
      new ReplyError('NOSCRIPT No matching script'),
      new ReplyError('ERR Error running script: bad argument'),
      new Error('Missing lock for job 42. moveToDelayed'),
      new Error('invalid event: sourceType is required'),
      'Connection is closed.',
      undefined,
    ]) {
      expect(isTransientRedisError(err), String(err)).toBe(false);
    }
  });
});
