// Docs check: the README's "publish from a plain BullMQ app" and "subscribe" snippets, run as
// written (as .mjs files next to this package's node_modules, so they import the same bullmq and
// ioredis a user installs with `npm install bullmq ioredis`), against a real publish worker.
// Only names are swapped for unique ones: the queue, the event id and the channel prefix.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createPublishWorker, type PublishWorker } from '../../src/queue/index.js';
import {
  REDIS_URL,
  createTopic,
  obliterate,
  deleteTopics,
  readTopic,
  testConfig,
  uniq,
  waitFor,
} from '../helpers/pipeline-kit.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = new URL('../../test-artifacts/readme/', import.meta.url);

/** The fenced js block of the README whose first line is `// <name>`. */
function snippet(name: string): string {
  const readme = readFileSync(new URL('README.md', `file://${ROOT}/`), 'utf8');
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .find((b) => b.startsWith(`// ${name}\n`));
  if (!block) throw new Error(`README has no js block starting with "// ${name}"`);
  return block;
}

function run(file: URL): { done: Promise<number | null>; output: () => string; pid: number } {
  const child = spawn(process.execPath, [fileURLToPath(file)], { cwd: ROOT, detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { done, output: () => output, pid: child.pid! };
}

describe('README snippets', () => {
  const config = testConfig();
  const eventId = uniq('readme');
  const channel = `${config.events.channelPrefix}:repo:acme/api`;
  let worker: PublishWorker;
  const redis = new Redis(REDIS_URL);
  const pids: number[] = [];

  beforeAll(async () => {
    await createTopic(config.kafka.topic, 1);
    worker = createPublishWorker(config, { drainDelay: 1 });
    mkdirSync(DIR, { recursive: true });
    const swap = (code: string) =>
      code
        .replaceAll('redis://127.0.0.1:6379', REDIS_URL)
        .replaceAll("'dualstream-publish'", `'${config.queue.name}'`)
        .replaceAll('evt-01J9Z3', eventId)
        .replaceAll("'events:repo:acme/api'", `'${channel}'`);
    writeFileSync(new URL('publish.mjs', DIR), swap(snippet('publish.mjs')));
    writeFileSync(new URL('subscribe.mjs', DIR), swap(snippet('subscribe.mjs')));
  });

  afterAll(async () => {
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already exited
      }
    }
    await worker?.close();
    await redis.quit();
    await obliterate(config.queue.name);
    await deleteTopics(config.kafka.topic);
  });

  it('a plain BullMQ app publishes, a subscriber gets the id-only notification, Kafka has the event', async () => {
    const subscriber = run(new URL('subscribe.mjs', DIR));
    pids.push(subscriber.pid);
    await waitFor(
      async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 1,
      20_000,
      `the subscriber on ${channel} (${subscriber.output()})`,
    );

    const publisher = run(new URL('publish.mjs', DIR));
    pids.push(publisher.pid);
    expect(await publisher.done, publisher.output()).toBe(0);
    expect(publisher.output()).toBe('');

    await waitFor(
      () => subscriber.output().includes(`id: '${eventId}'`),
      30_000,
      `the notification (subscriber printed: ${subscriber.output()})`,
    );
    // What the README shows the subscriber printing (console.log of the parsed message).
    expect(subscriber.output()).toMatch(
      new RegExp(
        [
          `^${channel} \\{`,
          `  id: '${eventId}',`,
          "  type: 'push',",
          "  source_type: 'repo',",
          "  source_id: 'acme/api',",
          `  topic: '${config.kafka.topic}',`,
          '  partition: 0,',
          "  offset: '\\d+',",
          '  seq: 1,',
          '  ts: \\d+,',
          "  pos: '\\d+-\\d+@[0-9a-f]+',",
          '  prev: 0',
          '\\}$',
        ].join('\n'),
        'm',
      ),
    );
    const records = await readTopic(config.kafka.topic);
    expect(records.filter((r) => r.headers['event-id'] === eventId)).toHaveLength(1);
  });
});
