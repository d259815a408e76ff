import { Kafka, logLevel } from 'kafkajs';

/** One record read back from the topic. */
export interface ReadRecord {
  partition: number;
  offset: string;
  /** Record timestamp (producer create time), ms. */
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/**
 * Read the whole topic with a fresh consumer (unique group, from the beginning) until every
 * partition reached the high watermark taken at the start. Throws when that takes longer than
 * `timeoutMs`, because a verifier that silently reads half a topic would report losses it cannot
 * prove.
 */
export async function readWholeTopic(
  brokers: string[],
  topic: string,
  timeoutMs: number,
): Promise<{ records: ReadRecord[]; highWatermarks: Record<number, string> }> {
  const kafka = new Kafka({ clientId: 'chaos-verifier', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let offsets: Array<{ partition: number; high: string; low: string }>;
  try {
    offsets = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const high = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const highWatermarks = Object.fromEntries(offsets.map((o) => [o.partition, o.high]));
  const next = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]));
  const records: ReadRecord[] = [];
  const complete = () => [...high].every(([p, h]) => (next.get(p) ?? 0n) >= h);
  if (complete()) return { records, highWatermarks };

  const consumer = kafka.consumer({
    groupId: `chaos-verifier-${Date.now()}-${process.pid}`,
    maxBytes: 16 * 1024 * 1024,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const progress = [...high].map(([p, h]) => `p${p} ${next.get(p)}/${h}`).join(', ');
        reject(
          new Error(
            `reading ${topic} did not reach the high watermarks within ${timeoutMs} ms (${progress})`,
          ),
        );
      }, timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const headers: Record<string, string> = {};
              for (const [k, v] of Object.entries(m.headers ?? {})) {
                if (v !== undefined)
                  headers[k] = Array.isArray(v) ? v.map(String).join(',') : v.toString();
              }
              records.push({
                partition: batch.partition,
                offset: m.offset,
                timestamp: Number(m.timestamp),
                key: m.key?.toString() ?? null,
                value: m.value?.toString() ?? null,
                headers,
              });
              next.set(batch.partition, BigInt(m.offset) + 1n);
            }
            if (complete()) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  // Records past the watermark taken at the start belong to nothing the verifier waited for.
  return {
    records: records.filter((r) => BigInt(r.offset) < (high.get(r.partition) ?? 0n)),
    highWatermarks,
  };
}
