import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { HubClient, RealtimeHub } from './hub.js';
import { checkAccess, type EdgeCredentials } from './access.js';
import type { HubMessage, ResetInfo } from './session.js';
import { channelSchema, decodeResumeToken } from './tokens.js';

/** Path of the WebSocket endpoint. */
export const WS_PATH = '/v1/ws';

/** A message a WebSocket client sends. */
export const wsClientMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('subscribe'),
    /** Client-chosen id, echoed as `sub` on every message of this subscription. */
    id: z.string().max(100).optional(),
    channels: z.array(channelSchema).min(1).max(100),
    /** A resume token (the `token` of the last message received). */
    token: z.string().max(65_536).optional(),
  }),
  z.object({
    type: z.literal('unsubscribe'),
    id: z.string().max(100).optional(),
    channels: z.array(z.string()).optional(),
  }),
]);

/**
 * Serve `WS_PATH` on `server` with the `ws` package. Credentials are checked at the upgrade
 * (basic/bearer header, or `?token=`), and a subscribe token's channels again on each
 * `subscribe`. Other upgrade paths are left alone.
 */
export function attachWebSocket(
  server: Server,
  hub: RealtimeHub,
  credentials: EdgeCredentials,
): () => Promise<void> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== WS_PATH) return;
    const token = url.searchParams.get('token') ?? undefined;
    const access = checkAccess(req.headers, token, [], credentials);
    if (!access.ok) {
      socket.end(
        `HTTP/1.1 ${access.status} ${access.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: access.error })}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, req, token));
  };
  server.on('upgrade', onUpgrade);

  function serve(ws: WebSocket, req: IncomingMessage, token: string | undefined): void {
    const subs = new Map<HubClient, string | undefined>();
    const send = (s: string) => {
      if (ws.readyState === ws.OPEN) ws.send(s);
    };
    ws.on('message', (raw) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(String(raw));
      } catch {
        send(JSON.stringify({ type: 'error', status: 400, error: 'message must be JSON' }));
        return;
      }
      const m = wsClientMessageSchema.safeParse(parsed);
      if (!m.success) {
        send(
          JSON.stringify({
            type: 'error',
            status: 400,
            error: 'Invalid message',
            issues: m.error.issues.map((i) => ({
              path: i.path.join('.'),
              message: i.message,
              code: i.code,
            })),
          }),
        );
        return;
      }
      const msg = m.data;
      if (msg.type === 'unsubscribe') {
        for (const [client, id] of subs) {
          const match =
            (msg.id !== undefined && id === msg.id) ||
            (msg.channels ?? []).some((c) => client.session.channels.some((k) => k.name === c));
          if (match) {
            hub.remove(client);
            subs.delete(client);
          }
        }
        return;
      }
      const access = checkAccess(req.headers, token, msg.channels, credentials);
      if (!access.ok) {
        send(
          JSON.stringify({
            type: 'error',
            status: access.status,
            error: access.error,
            ...(msg.id ? { sub: msg.id } : {}),
          }),
        );
        return;
      }
      const sub = msg.id === undefined ? '' : `,"sub":${JSON.stringify(msg.id)}`;
      const resume = msg.token ? (decodeResumeToken(msg.token) ?? 'unknown') : undefined;
      const client = hub.add(
        msg.channels,
        'ws',
        {
          message: (t: string, hm: HubMessage) => {
            // Shared by the subscribers with the same token and subscription id (a newline
            // never occurs in either, so these keys never meet the SSE frames' plain tokens).
            const key = `${sub}\n${t}`;
            hm.frames ??= new Map();
            let frame = hm.frames.get(key);
            if (frame === undefined) {
              frame = Buffer.from(
                `{"type":"message"${sub},"token":${JSON.stringify(t)},"data":${hm.json}}`,
              );
              hm.frames.set(key, frame);
            }
            if (ws.readyState === ws.OPEN) ws.send(frame, { binary: false });
          },
          reset: (t: string, info: ResetInfo) =>
            send(
              `{"type":"reset"${sub},"token":${JSON.stringify(t)},"data":${JSON.stringify(info)}}`,
            ),
          opened: (t: string, channels: string[]) =>
            send(
              `{"type":"subscribed"${sub},"token":${JSON.stringify(t)},"channels":${JSON.stringify(channels)}}`,
            ),
          dropped: (reason: string) => {
            send(JSON.stringify({ type: 'dropped', reason }));
            ws.close(4008, 'slow client');
            setTimeout(() => ws.terminate(), 5000).unref();
          },
          buffered: () => ws.bufferedAmount,
          heartbeat: () => {
            if (ws.readyState === ws.OPEN) ws.ping();
          },
          end: () => ws.close(1001, 'server shutting down'),
        },
        resume,
      );
      subs.set(client, msg.id);
    });
    ws.on('close', () => {
      for (const client of subs.keys()) hub.remove(client);
      subs.clear();
    });
    ws.on('error', () => undefined);
  }

  return async () => {
    server.off('upgrade', onUpgrade);
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}
