import { describe, expect, it } from 'vitest';
import { topicCheck } from '../../src/cli/topic-check.js';

describe('doctor: topic check', () => {
  const kafka = (enabled: boolean, partitions?: number) => ({
    topic: 'events',
    topicCreation: { enabled, ...(partitions ? { partitions } : {}) },
  });
  const missing = {
    exists: false,
    partitions: 0,
    leaderless: 0,
    replicationFactor: 0,
    underReplicated: 0,
  };
  const healthy = { ...missing, exists: true, partitions: 6, replicationFactor: 1 };

  it('an existing topic is OK, with leaderless partitions a WARN', () => {
    expect(topicCheck(kafka(true), healthy).status).toBe('OK');
    expect(topicCheck(kafka(true), { ...healthy, leaderless: 2 })).toMatchObject({
      status: 'WARN',
      detail: '"events": 6 partition(s), replication 1; 2 without a leader',
    });
  });

  it('a replicated topic: WARN when under-replicated or when min.insync.replicas is below 2', () => {
    const replicated = { ...healthy, replicationFactor: 3, minInsyncReplicas: 2 };
    expect(topicCheck(kafka(true), replicated)).toMatchObject({
      status: 'OK',
      detail: '"events": 6 partition(s), replication 3, min.insync.replicas 2',
    });
    expect(topicCheck(kafka(true), { ...replicated, underReplicated: 4 })).toMatchObject({
      status: 'WARN',
      detail: expect.stringContaining('4 under-replicated'),
    });
    const weak = topicCheck(kafka(true), { ...replicated, minInsyncReplicas: 1 });
    expect(weak.status).toBe('WARN');
    expect(weak.fix).toContain('min.insync.replicas=2');
    // One or two replicas cannot have min.insync.replicas 2 and survive a broker loss: no warning.
    expect(
      topicCheck(kafka(true), { ...replicated, replicationFactor: 2, minInsyncReplicas: 1 }).status,
    ).toBe('OK');
  });

  it('a missing topic the worker will create is OK and says with how many partitions', () => {
    expect(topicCheck(kafka(true, 6), missing)).toMatchObject({
      status: 'OK',
      detail: expect.stringContaining('the worker creates it at start-up with 6 partition(s)'),
    });
  });

  it('without worker creation: WARN when the broker auto-creates, FAIL otherwise; fixes are our commands', () => {
    const warn = topicCheck(kafka(false), { ...missing, brokerAutoCreates: true });
    expect(warn.status).toBe('WARN');
    expect(warn.fix).toBe(
      'dualstream topic create --topic events --partitions <n> to choose its partitions',
    );
    for (const brokerAutoCreates of [false, undefined]) {
      const fail = topicCheck(kafka(false), {
        ...missing,
        ...(brokerAutoCreates === undefined ? {} : { brokerAutoCreates }),
      });
      expect(fail.status).toBe('FAIL');
      expect(fail.fix).toMatch(/^dualstream topic create --topic events /);
      expect(fail.fix).not.toContain('kafka-topics');
    }
  });
});
