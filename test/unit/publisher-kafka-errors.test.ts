import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isRetriableKafkaError } from '../../src/publisher/index.js';

// The error shapes are kafkajs' own classes, built the way its retry module builds them. Its type
// declarations omit the `{ cause }` option and the protocol error's input that the runtime
// (kafkajs/src/errors.js) takes, hence these two casts.
const NonRetriable = KafkaJSNonRetriableError as unknown as new (
  e: Error,
  options: { cause: Error },
) => Error & { retriable: boolean };
const ProtocolError = KafkaJSProtocolError as unknown as new (e: {
  type: string;
  code: number;
  retriable: boolean;
  message: string;
}) => Error;

describe('isRetriableKafkaError', () => {
  it('retries a connection error that kafkajs wrapped as non-retriable (broker restarting)', () => {
    const conn = new KafkaJSConnectionError(
      'Connection error: connect ECONNREFUSED 127.0.0.1:9092',
    );
    const wrapped = new NonRetriable(conn, { cause: conn });
    expect(wrapped.retriable).toBe(false);
    expect(isRetriableKafkaError(wrapped)).toBe(true);
  });

  it('retries when kafkajs ran out of its own retries', () => {
    const last = new KafkaJSConnectionError('Connection timeout');
    expect(
      isRetriableKafkaError(
        new KafkaJSNumberOfRetriesExceeded(last, { retryCount: 5, retryTime: 5000 }),
      ),
    ).toBe(true);
  });

  it('does not retry a record the broker refuses', () => {
    const tooLarge = new ProtocolError({
      type: 'MESSAGE_TOO_LARGE',
      code: 10,
      retriable: false,
      message:
        'The request included a message larger than the max message size the server will accept',
    });
    expect(isRetriableKafkaError(tooLarge)).toBe(false);
    expect(isRetriableKafkaError(new NonRetriable(tooLarge, { cause: tooLarge }))).toBe(false);
  });

  it('retries errors that carry no verdict (plain socket errors)', () => {
    expect(isRetriableKafkaError(new Error('socket hang up'))).toBe(true);
  });
});
