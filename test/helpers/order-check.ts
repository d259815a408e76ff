// Per-source order and seq checks over what really landed in Kafka (and on Pub/Sub), shared by
// the order integration tests and the chaos suite.

/** One Kafka record, reduced to what the order checks need. */
export interface OrderedRecord {
  /** The Kafka key: `sourceType:sourceId`. */
  key: string;
  partition: number;
  offset: string;
  eventId: string;
  /** The `source-seq` header, parsed (NaN when missing or not a number). */
  seq: number;
  /** The event's place in its source's enqueue order, when the producer knows it. */
  index?: number;
  /** The record's Kafka timestamp (ms), when the caller wants to know when each problem arose. */
  at?: number;
}

/** One inversion, seq gap or seq mismatch, with the Kafka timestamp of the record that shows it. */
export interface OrderProblem {
  kind: 'inversion' | 'seq gap' | 'seq mismatch';
  key: string;
  eventId: string;
  at?: number;
}

/**
 * A record read back from Kafka as the order checks need it; the producer's enqueue index is the
 * event's `payload.n` when it has one (the order tests number their events that way).
 */
export function orderedRecordOf(r: {
  key: string | null;
  value: string | null;
  partition: number;
  offset: string;
  headers: Record<string, string>;
}): OrderedRecord {
  const value = JSON.parse(r.value ?? '{}') as { payload?: { n?: number } };
  return {
    key: r.key ?? '',
    partition: r.partition,
    offset: r.offset,
    eventId: r.headers['event-id'] ?? '',
    seq: Number(r.headers['source-seq']),
    ...(value.payload?.n !== undefined ? { index: value.payload.n } : {}),
  };
}

/** What the order checks found. */
export interface OrderReport {
  sources: number;
  records: number;
  /** Records that repeat an event id already seen. */
  duplicates: number;
  /** First occurrences that came after a later-enqueued event of their source. */
  inversions: number;
  /** First occurrences whose seq is not the next of their source (1, 2, 3, …). */
  seqGaps: number;
  /** Duplicates whose seq differs from their original's. */
  duplicateSeqMismatches: number;
  /** Sources whose records were found in more than one partition. */
  splitSources: number;
  /** A few readable examples of each problem. */
  examples: string[];
  /** Every inversion, seq gap and seq mismatch (split sources are counted above only). */
  problems: OrderProblem[];
}

/** Check per-source enqueue order and the gap-free seq, in offset order per source. */
export function checkSourceOrder(records: OrderedRecord[]): OrderReport {
  const bySource = new Map<string, OrderedRecord[]>();
  for (const r of records) {
    let list = bySource.get(r.key);
    if (!list) bySource.set(r.key, (list = []));
    list.push(r);
  }
  const report: OrderReport = {
    sources: bySource.size,
    records: records.length,
    duplicates: 0,
    inversions: 0,
    seqGaps: 0,
    duplicateSeqMismatches: 0,
    splitSources: 0,
    examples: [],
    problems: [],
  };
  const problem = (kind: OrderProblem['kind'], r: OrderedRecord): void => {
    report.problems.push({
      kind,
      key: r.key,
      eventId: r.eventId,
      ...(r.at !== undefined ? { at: r.at } : {}),
    });
  };
  const example = (line: string): void => {
    if (report.examples.length < 12) report.examples.push(line);
  };
  for (const [key, list] of bySource) {
    if (new Set(list.map((r) => r.partition)).size > 1) {
      report.splitSources += 1;
      example(`${key}: records in several partitions`);
    }
    list.sort((a, b) =>
      a.partition !== b.partition
        ? a.partition - b.partition
        : BigInt(a.offset) < BigInt(b.offset)
          ? -1
          : 1,
    );
    const firstSeq = new Map<string, number>();
    let expectedSeq = 1;
    let maxIndex = -Infinity;
    for (const r of list) {
      const original = firstSeq.get(r.eventId);
      if (original !== undefined) {
        report.duplicates += 1;
        if (original !== r.seq) {
          report.duplicateSeqMismatches += 1;
          problem('seq mismatch', r);
          example(`${key}: duplicate ${r.eventId} has seq ${r.seq}, its original ${original}`);
        }
        continue;
      }
      firstSeq.set(r.eventId, r.seq);
      if (r.seq !== expectedSeq) {
        report.seqGaps += 1;
        problem('seq gap', r);
        example(
          `${key}: ${r.eventId} at offset ${r.offset} has seq ${r.seq}, expected ${expectedSeq}`,
        );
      }
      expectedSeq = (Number.isFinite(r.seq) ? r.seq : expectedSeq) + 1;
      if (r.index !== undefined) {
        if (r.index < maxIndex) {
          report.inversions += 1;
          problem('inversion', r);
          example(`${key}: #${r.index} (${r.eventId}) came after #${maxIndex}`);
        }
        maxIndex = Math.max(maxIndex, r.index);
      }
    }
  }
  return report;
}

/** Notifications of one source must arrive in seq order (a repeat of an earlier seq is allowed). */
export function notificationInversions(messages: Array<{ key: string; seq: number }>): {
  inversions: number;
  examples: string[];
} {
  const last = new Map<string, number>();
  let inversions = 0;
  const examples: string[] = [];
  const seen = new Map<string, Set<number>>();
  for (const m of messages) {
    let s = seen.get(m.key);
    if (!s) seen.set(m.key, (s = new Set()));
    const prev = last.get(m.key) ?? 0;
    if (m.seq < prev && !s.has(m.seq)) {
      inversions += 1;
      if (examples.length < 10) examples.push(`${m.key}: seq ${m.seq} after ${prev}`);
    }
    s.add(m.seq);
    last.set(m.key, Math.max(prev, m.seq));
  }
  return { inversions, examples };
}
