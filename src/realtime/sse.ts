import type { Response } from 'express';
import type { ResetInfo, SessionSink, HubMessage } from './session.js';

/**
 * Start an SSE response: the status line and headers, then nothing but frames. The body is
 * delimited by the connection's close, not by chunked encoding (`Connection: close`), so a
 * message is one socket write of a buffer shared by every subscriber that gets the same frame,
 * without per-subscriber chunk framing or string encoding. Browsers and proxies read such an
 * event stream like a chunked one.
 */
export function startSse(res: Response): void {
  // Without chunked encoding by default, Node sends no Transfer-Encoding and ends the connection
  // with the response.
  res.useChunkedEncodingByDefault = false;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
}

/** An SSE response (started with {@link startSse}) as a session sink. */
export function sseSink(
  res: Response,
): SessionSink & { heartbeat(): void; end(): void; retry(ms: number): void } {
  let ended = false;
  // The headers went out through the response; every frame after them goes to the socket. A
  // response still waiting for its socket (behind a pipelined request) is written through:
  // without chunked encoding that is the same bytes, queued in order.
  const socket = res.socket;
  const write = (s: string | Buffer) => {
    if (ended) return;
    if (!socket) res.write(s);
    else if (!socket.destroyed) {
      if (!socket.writableCorked) {
        socket.cork();
        process.nextTick(() => socket.uncork());
      }
      socket.write(s);
    }
  };
  return {
    message: (token: string, msg: HubMessage) => {
      // Subscribers that share a token share the frame too.
      msg.frames ??= new Map();
      let frame = msg.frames.get(token);
      if (frame === undefined) {
        msg.frames.set(token, (frame = Buffer.from(`id: ${token}\ndata: ${msg.json}\n\n`)));
      }
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
    buffered: () => (socket ? socket.writableLength : res.writableLength),
    heartbeat: () => write(': heartbeat\n\n'),
    retry: (ms: number) => write(`retry: ${ms}\n\n`),
    end: () => {
      ended = true;
      res.end();
    },
  };
}
