// The frontend developer's path in a real browser: a page opens a native EventSource on
// /v1/subscribe with a signed ?token=, goes offline while events are published, comes back, and
// has every event exactly once and in seq order (the browser resumes with Last-Event-ID by
// itself; the page's snippet re-opens with ?lastEventId= if the browser gave up). Needs a
// Chromium, provisioned like the board's browser test; without one this test FAILS.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createSubscribeToken } from '../../src/realtime/index.js';
import { EDGE_SECRET, startEdgeStack, type EdgeStack } from '../helpers/edge-kit.js';
import { waitFor } from '../helpers/pipeline-kit.js';

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('real-time edge in a browser (EventSource)', () => {
  let stack: EdgeStack;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const provisioned = inject('chromium');
    if ('error' in provisioned) {
      throw new Error(`No browser for this test (it does not skip): ${provisioned.error}`);
    }
    if (!existsSync(provisioned.path)) {
      throw new Error(
        `No browser at ${provisioned.path} (CHROMIUM_PATH). This test does not skip.`,
      );
    }
    stack = await startEdgeStack();
    browser = await chromium.launch({
      executablePath: provisioned.path,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('goes offline and back without a gap or a repeat', async () => {
    const context = await browser!.newContext();
    const page = await context.newPage();
    try {
      const token = createSubscribeToken({ secret: EDGE_SECRET, channels: ['web:*'] });
      await page.goto(`${stack.url}/healthz`);
      // The README's browser snippet, as a page would run it.
      await page.evaluate((subscribeToken) => {
        const w = globalThis as unknown as Record<string, unknown>;
        const seen: number[] = [];
        const resets: unknown[] = [];
        let opens = 0;
        let last = '';
        const open = () => {
          const q = new URLSearchParams({ channel: 'web:a', token: subscribeToken });
          if (last) q.set('lastEventId', last);
          const es = new EventSource(`/v1/subscribe?${q}`);
          es.onopen = () => opens++;
          es.onmessage = (e) => {
            last = e.lastEventId;
            seen.push((JSON.parse(e.data) as { seq: number }).seq);
          };
          es.addEventListener('subscribed', (e) => (last = (e as MessageEvent).lastEventId));
          es.addEventListener('reset', (e) => resets.push(JSON.parse((e as MessageEvent).data)));
          // The browser retries by itself with Last-Event-ID; if it gives up, open again.
          es.onerror = () => {
            if (es.readyState === EventSource.CLOSED) setTimeout(open, 1000);
          };
        };
        open();
        w.edge = { seen, resets, opens: () => opens };
      }, token);
      const state = () =>
        page.evaluate(() => {
          const e = (
            globalThis as unknown as {
              edge: { seen: number[]; resets: unknown[]; opens: () => number };
            }
          ).edge;
          return { seen: [...e.seen], resets: [...e.resets], opens: e.opens() };
        });
      await waitFor(async () => stack.edge.hub.size === 1, 20_000, 'the browser subscribed');
      await stack.publish('web:a', 5, 0);
      await waitFor(async () => (await state()).seen.length === 5, 20_000, '5 live events');

      await context.setOffline(true);
      // The server also loses the connection (as when a phone changes network).
      stack.edge.hub.disconnectAll();
      await stack.publish('web:a', 10, 5); // 6..15 while offline
      await waitFor(
        async () => (await stack.queue.getJobCountByTypes('completed')) >= 15,
        20_000,
        'published while offline',
      );
      expect((await state()).seen).toEqual(range(1, 5));
      await context.setOffline(false);
      await waitFor(async () => (await state()).seen.length === 15, 30_000, 'the missed events');
      await stack.publish('web:a', 3, 15);
      await waitFor(async () => (await state()).seen.length === 18, 20_000, 'live again');
      const s = await state();
      expect(s.seen).toEqual(range(1, 18));
      expect(s.resets).toEqual([]);
      expect(s.opens).toBeGreaterThanOrEqual(2);
    } finally {
      await context.close();
    }
  });
});
