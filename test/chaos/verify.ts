import { safeParseEvent } from '../../src/events/index.js';
import { HOSTILE_MARK } from './hostile.js';
import type { HostileOutcome } from './hostile-driver.js';
import type { ReadRecord } from './kafka-reader.js';
import type { Entry, OfferedEvent } from './load-driver.js';
import { checkSourceOrder, type OrderReport } from '../helpers/order-check.js';

/** A period in which a fault was active, for throughput and notification accounting. */
export interface FaultWindow {
  name: string;
  from: number;
  to: number;
}

/** Inputs of {@link verify}. */
export interface VerifyInput {
  records: ReadRecord[];
  offered: Map<string, OfferedEvent>;
  /** Offered id → id the event gets in Kafka (stream entries without an id). */
  derivedIds: Map<string, string>;
  hostile: HostileOutcome[];
  /** Event ids of jobs that were active in a worker when it was killed. */
  activeAtWorkerKill: Set<string>;
  /**
   * Event ids of jobs active right after the broker was killed. A produce request in flight at
   * that moment may have been written without an ack; the worker then writes it again with a
   * fresh producer (README, guarantees: duplicates rather than loss).
   */
  inFlightAtKafkaKill: Set<string>;
  windows: FaultWindow[];
  loadStart: number;
  loadEnd: number;
  notified: Map<string, number>;
  pubsubDown: FaultWindow[];
  maxPayloadBytes: number;
  /**
   * Kills of the Redis master serving the queue's slot (Redis Cluster), from the kill to the
   * replica's promotion. Redis replicates asynchronously: what the master confirmed in its last
   * instant may be missing on the replica, and the verifier accounts for each such event.
   */
  redisMasterKills?: FaultWindow[];
  /** Event ids of jobs active just before and right after a Redis master kill. */
  activeAtRedisKill?: Set<string>;
}

/** Before a Redis master kill: writes confirmed this long before it may not have reached the replica. */
const REPLICATION_MARGIN_MS = 2000;
/** After the promotion: the first events of a source written then show what the replica missed. */
const AFTER_PROMOTION_MS = 10_000;

/** A duplicated event id in Kafka and why it happened. */
export interface DuplicateInfo {
  id: string;
  copies: number;
  explained: boolean;
  why: string;
}

/** Everything the verifier found. */
export interface VerifyResult {
  recordsInKafka: number;
  perEntry: Record<
    Entry,
    {
      offered: number;
      accepted: number;
      refused: number;
      uncertain: number;
      inKafka: number;
      lost: number;
    }
  >;
  accepted: number;
  acceptedInKafka: number;
  lost: number;
  lostIds: Array<{ id: string; entry: Entry; offeredAt: string }>;
  uncertainInKafka: number;
  refusedButInKafka: number;
  duplicates: {
    ids: number;
    extraRecords: number;
    explained: number;
    unexplained: number;
    samples: DuplicateInfo[];
  };
  leaked: {
    total: number;
    invalidSchema: number;
    hostileMarker: number;
    hostileId: number;
    unknownId: number;
    samples: string[];
  };
  throughput: {
    offeredPerSec: number;
    outsideFaultsPerSec: number;
    windows: Array<{ name: string; seconds: number; perSec: number }>;
    /** Seconds of the load phase in which nothing reached Kafka. */
    zeroSeconds: number;
  };
  notifications: { expected: number; delivered: number; ratio: number; receivedTotal: number };
  /** Per-source enqueue order and the gap-free `source-seq`, over every valid record. */
  order: OrderReport;
  /**
   * What Redis master kills cost, event by event: accepted events lost (offered within
   * {@link REPLICATION_MARGIN_MS} before the kill or while it was down), duplicates whose first
   * copy was written around the kill, and order problems that arose from the kill to
   * {@link AFTER_PROMOTION_MS} after the promotion. Each line names the event and when, relative
   * to the kill.
   */
  redisFailover: {
    kills: number;
    lost: number;
    duplicates: number;
    inversions: number;
    seqGaps: number;
    seqMismatches: number;
    lines: string[];
  };
}

/**
 * Check every Kafka record against what the suite offered: nothing accepted is missing, nothing
 * hostile or unknown is present, every duplicate is accounted for.
 */
export function verify(input: VerifyInput): VerifyResult {
  const expectedToOffered = new Map<string, string>();
  for (const [id] of input.offered) expectedToOffered.set(input.derivedIds.get(id) ?? id, id);
  const hostileIds = new Set<string>();
  for (const h of input.hostile) {
    if (h.ref) hostileIds.add(h.ref);
    for (const id of h.innocentIds ?? []) hostileIds.add(id);
  }

  const copies = new Map<string, ReadRecord[]>();
  const leaked = {
    total: 0,
    invalidSchema: 0,
    hostileMarker: 0,
    hostileId: 0,
    unknownId: 0,
    samples: [] as string[],
  };
  for (const r of input.records) {
    const value = r.value ?? '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    const ok = safeParseEvent(parsed, { maxPayloadBytes: input.maxPayloadBytes });
    const id = ok.success
      ? ok.event.id
      : (r.headers['event-id'] ?? `(unparsable p${r.partition}@${r.offset})`);
    let bad = false;
    if (!ok.success) {
      leaked.invalidSchema += 1;
      bad = true;
    }
    if (value.includes(HOSTILE_MARK)) {
      leaked.hostileMarker += 1;
      bad = true;
    }
    if (hostileIds.has(id)) {
      leaked.hostileId += 1;
      bad = true;
    } else if (!expectedToOffered.has(id)) {
      leaked.unknownId += 1;
      bad = true;
    }
    if (bad) {
      leaked.total += 1;
      if (leaked.samples.length < 10)
        leaked.samples.push(`p${r.partition}@${r.offset} id=${id} ${value.slice(0, 160)}`);
      continue;
    }
    const list = copies.get(id) ?? [];
    list.push(r);
    copies.set(id, list);
  }

  const kills = input.redisMasterKills ?? [];
  const killNear = (t: number, before: number, after: number) =>
    kills.find((w) => t >= w.from - before && t <= w.to + after);
  const sinceKill = (t: number, w: FaultWindow) =>
    `${t >= w.from ? '+' : ''}${((t - w.from) / 1000).toFixed(2)} s from the kill`;
  const redisFailover: VerifyResult['redisFailover'] = {
    kills: kills.length,
    lost: 0,
    duplicates: 0,
    inversions: 0,
    seqGaps: 0,
    seqMismatches: 0,
    lines: [],
  };
  const perEntry = {} as VerifyResult['perEntry'];
  for (const e of ['bullmq', 'http', 'stream'] as Entry[]) {
    perEntry[e] = { offered: 0, accepted: 0, refused: 0, uncertain: 0, inKafka: 0, lost: 0 };
  }
  const lostIds: VerifyResult['lostIds'] = [];
  let uncertainInKafka = 0;
  let refusedButInKafka = 0;
  for (const [id, ev] of input.offered) {
    const p = perEntry[ev.entry];
    p.offered += 1;
    const inKafka = copies.has(input.derivedIds.get(id) ?? id);
    if (inKafka) p.inKafka += 1;
    if (ev.status === 'accepted') {
      p.accepted += 1;
      if (!inKafka) {
        p.lost += 1;
        const w = killNear(ev.offeredAt, REPLICATION_MARGIN_MS, 0);
        if (w) {
          redisFailover.lost += 1;
          redisFailover.lines.push(
            `lost ${id} (${ev.entry}): offered ${sinceKill(ev.offeredAt, w)}, confirmed, missing on the promoted replica`,
          );
        }
        if (lostIds.length < 50)
          lostIds.push({ id, entry: ev.entry, offeredAt: new Date(ev.offeredAt).toISOString() });
      }
    } else if (ev.status === 'refused') {
      p.refused += 1;
      if (inKafka) refusedButInKafka += 1;
    } else {
      p.uncertain += 1;
      if (inKafka) uncertainInKafka += 1;
    }
  }
  const accepted = Object.values(perEntry).reduce((a, p) => a + p.accepted, 0);
  const lost = Object.values(perEntry).reduce((a, p) => a + p.lost, 0);

  const dupSamples: DuplicateInfo[] = [];
  let dupIds = 0;
  let extra = 0;
  let explained = 0;
  let unexplained = 0;
  for (const [id, list] of copies) {
    if (list.length < 2) continue;
    dupIds += 1;
    extra += list.length - 1;
    const inWorker = input.activeAtWorkerKill.has(id);
    const inBrokerKill = input.inFlightAtKafkaKill.has(id);
    const times = list.map((r) => r.timestamp).sort((a, b) => a - b);
    // A job active at a Redis master kill, or first written around it (its completion may not
    // have reached the replica, which then ran it again).
    const redisKill =
      inWorker || inBrokerKill
        ? undefined
        : input.activeAtRedisKill?.has(id)
          ? kills[0]
          : killNear(times[0]!, REPLICATION_MARGIN_MS, REPLICATION_MARGIN_MS);
    const known = inWorker || inBrokerKill || redisKill !== undefined;
    if (redisKill) {
      redisFailover.duplicates += 1;
      redisFailover.lines.push(
        `duplicate ${id} x${list.length}: first written ${sinceKill(times[0]!, redisKill)}, again ${sinceKill(times[times.length - 1]!, redisKill)}`,
      );
    } else if (known) explained += 1;
    if (!known) unexplained += 1;
    const near = nearestWindow(input.windows, times[times.length - 1]!);
    const why = inWorker
      ? 'job was active in the killed worker (Kafka ack before the receipt was recorded)'
      : inBrokerKill
        ? 'produce request in flight when the broker was killed (written, ack lost, written again)'
        : `not active in a killed worker; copies at ${times.map((t) => new Date(t).toISOString()).join(', ')}${near ? `, nearest fault: ${near}` : ''}`;
    if (dupSamples.length < 20 || !known)
      dupSamples.push({ id, copies: list.length, explained: known, why });
  }

  const order = checkSourceOrder(
    [...copies].flatMap(([id, list]) => {
      const offeredId = expectedToOffered.get(id);
      const index = offeredId === undefined ? undefined : input.offered.get(offeredId)?.orderIndex;
      return list.map((r) => ({
        key: r.key ?? '',
        partition: r.partition,
        offset: r.offset,
        eventId: id,
        seq: Number(r.headers['source-seq']),
        at: r.timestamp,
        ...(index !== undefined ? { index } : {}),
      }));
    }),
  );
  for (const p of order.problems) {
    const w =
      p.at === undefined ? undefined : killNear(p.at, REPLICATION_MARGIN_MS, AFTER_PROMOTION_MS);
    if (!w || p.at === undefined) continue;
    if (p.kind === 'inversion') redisFailover.inversions += 1;
    else if (p.kind === 'seq gap') redisFailover.seqGaps += 1;
    else redisFailover.seqMismatches += 1;
    redisFailover.lines.push(`${p.kind} at ${p.key} ${p.eventId}: written ${sinceKill(p.at, w)}`);
  }

  // Throughput: first record of each valid event, by second of the load phase.
  const firstSeen: number[] = [];
  for (const list of copies.values()) firstSeen.push(Math.min(...list.map((r) => r.timestamp)));
  const inside = (t: number, w: FaultWindow) => t >= w.from && t < w.to;
  const loadMs = Math.max(1, input.loadEnd - input.loadStart);
  const outsideMs = Math.max(
    1,
    loadMs - input.windows.reduce((a, w) => a + overlap(w, input.loadStart, input.loadEnd), 0),
  );
  const outsideCount = firstSeen.filter(
    (t) => t >= input.loadStart && t < input.loadEnd && !input.windows.some((w) => inside(t, w)),
  ).length;
  const seconds = new Set(
    firstSeen
      .filter((t) => t >= input.loadStart && t < input.loadEnd)
      .map((t) => Math.floor((t - input.loadStart) / 1000)),
  );
  const totalSeconds = Math.floor(loadMs / 1000);

  // Notifications: events first written to Kafka while the Pub/Sub Redis was up (with a margin
  // for the subscriber's reconnect) should have been delivered.
  let expected = 0;
  let delivered = 0;
  for (const [id, list] of copies) {
    const t = Math.min(...list.map((r) => r.timestamp));
    if (input.pubsubDown.some((w) => t >= w.from - 1000 && t < w.to + 3000)) continue;
    expected += 1;
    if (input.notified.has(id)) delivered += 1;
  }

  return {
    recordsInKafka: input.records.length,
    perEntry,
    accepted,
    acceptedInKafka: accepted - lost,
    lost,
    lostIds,
    uncertainInKafka,
    refusedButInKafka,
    duplicates: { ids: dupIds, extraRecords: extra, explained, unexplained, samples: dupSamples },
    leaked,
    throughput: {
      offeredPerSec: round1(input.offered.size / (loadMs / 1000)),
      outsideFaultsPerSec: round1(outsideCount / (outsideMs / 1000)),
      windows: input.windows.map((w) => {
        const ms = Math.max(1, w.to - w.from);
        return {
          name: w.name,
          seconds: round1(ms / 1000),
          perSec: round1(firstSeen.filter((t) => inside(t, w)).length / (ms / 1000)),
        };
      }),
      zeroSeconds: Math.max(0, totalSeconds - [...seconds].filter((s) => s < totalSeconds).length),
    },
    notifications: {
      expected,
      delivered,
      ratio: expected === 0 ? 1 : Math.round((delivered / expected) * 10_000) / 10_000,
      receivedTotal: input.notified.size,
    },
    order,
    redisFailover,
  };
}

function overlap(w: FaultWindow, from: number, to: number): number {
  return Math.max(0, Math.min(w.to, to) - Math.max(w.from, from));
}

function nearestWindow(windows: FaultWindow[], t: number): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const w of windows) {
    const d = t < w.from ? w.from - t : t > w.to ? t - w.to : 0;
    if (!best || d < best.d) best = { name: w.name, d };
  }
  return best ? `${best.name} (${(best.d / 1000).toFixed(1)} s away)` : undefined;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
