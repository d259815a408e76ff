import type { Response } from 'express';
import type { ResetInfo, SessionSink, HubMessage } from './session.js';

/** An SSE response as a session sink. */
export function sseSink(res: Response): SessionSink & { heartbeat(): void; end(): void } {
  let ended = false;
  const write = (s: string) => {
    if (!ended && !res.writableEnded) res.write(s);
  };
  return {
    message: (token: string, msg: HubMessage) => {
      // Subscribers that share a token share the frame too.
      msg.cache ??= new Map();
      const key = `sse:${token}`;
      let frame = msg.cache.get(key);
      if (frame === undefined) msg.cache.set(key, (frame = `id: ${token}\ndata: ${msg.json}\n\n`));
      write(frame);
    },
    reset: (token: string, info: ResetInfo) =>
      write(`id: ${token}\nevent: reset\ndata: ${JSON.stringify(info)}\n\n`),
    opened: (token: string, channels: string[]) =>
      write(`id: ${token}\nevent: subscribed\ndata: ${JSON.stringify({ channels })}\n\n`),
    dropped: (reason: string) => {
      write(`event: dropped\ndata: ${JSON.stringify({ reason })}\n\n`);
      ended = true;
      res.end();
      // A client that reads nothing never takes the last bytes: do not wait for it.
      setTimeout(() => res.destroy(), 5000).unref();
    },
    buffered: () => res.writableLength,
    heartbeat: () => write(': heartbeat\n\n'),
    end: () => {
      ended = true;
      res.end();
    },
  };
}
