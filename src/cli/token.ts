import { Command, InvalidArgumentError } from 'commander';
import { action, UsageError } from './errors.js';
import { configFrom } from './options.js';

function ttl(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 86_400) {
    throw new InvalidArgumentError('must be a whole number of seconds from 1 to 86400');
  }
  return n;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * `dualstream token`: mint a short-lived subscribe token for browsers (`?token=` on
 * `/v1/subscribe`, `/v1/ws` and `/v1/sources/…/events`), signed with `SUBSCRIBE_SECRET`.
 */
export function tokenCommand(): Command {
  const cmd = new Command('token')
    .description(
      'print a signed subscribe token for browsers (SUBSCRIBE_SECRET), limited to channels and an expiry',
    )
    .requiredOption(
      '-c, --channel <channel>',
      'a channel the token allows: <sourceType>:<sourceId> or <sourceType>:* (repeatable)',
      collect,
    )
    .option('--ttl <seconds>', 'lifetime in seconds (default 300, at most 86400)', ttl)
    .option('--secret <secret>', 'signing secret (SUBSCRIBE_SECRET)');
  cmd.action(
    action(async (opts: Record<string, unknown>) => {
      const secret = (opts.secret as string | undefined) ?? configFrom({}).edge.subscribeSecret;
      if (!secret) throw new UsageError('SUBSCRIBE_SECRET is not set (or pass --secret)');
      const { createSubscribeToken, SubscribeTokenError } = await import('../realtime/tokens.js');
      try {
        const token = createSubscribeToken({
          secret,
          channels: opts.channel as string[],
          ...(opts.ttl !== undefined ? { ttlSeconds: opts.ttl as number } : {}),
        });
        process.stdout.write(`${token}\n`);
      } catch (err) {
        if (err instanceof SubscribeTokenError) throw new UsageError(err.message);
        throw err;
      }
    }),
  );
  return cmd;
}
