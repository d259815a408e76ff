import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { overridesFrom, parseDuration } from '../../src/cli/options.js';
import { parseOffsetSpec, planRanges } from '../../src/cli/replay.js';
import { failedAsInvalid, matchesFilter } from '../../src/cli/retry-failed.js';
import { groupReasons } from '../../src/cli/failed-jobs.js';
import { packageVersion } from '../../src/cli/program.js';
import { parseNdjsonLine, validateLines, type ValueLine } from '../../src/cli/enqueue.js';
import { compareVersions, keyspaceEventsCheck, redactUrl } from '../../src/cli/doctor.js';
import { withStartCredentials } from '../../src/cli/credentials.js';
import { reportError, UsageError } from '../../src/cli/errors.js';
import { ConfigError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/index.js';

describe('parseDuration', () => {
  it('reads units', () => {
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
  });
  it('rejects anything else with an example', () => {
    for (const bad of ['', 'soon', '-5s', '5 weeks', '1y']) {
      expect(() => parseDuration(bad)).toThrow(/invalid duration .*e\.g\. 500ms, 30s/);
    }
  });
});

describe('overridesFrom', () => {
  it('maps flags to variables, only those given', () => {
    expect(
      overridesFrom(
        { kafkaBrokers: 'k:1', port: '0', insecure: true, concurrency: '3' },
        'connection',
        'server',
      ),
    ).toEqual({ KAFKA_BROKERS: 'k:1', PORT: '0', DUALSTREAM_INSECURE: '1' });
  });
  it('a flag wins over the environment variable', () => {
    const config = loadConfig({ PORT: '1234' }, overridesFrom({ port: '4321' }, 'server'));
    expect(config.server.port).toBe(4321);
  });
});

describe('replay offsets', () => {
  it('parses one offset for all partitions or pairs', () => {
    expect(parseOffsetSpec('42')).toEqual({ all: 42n });
    expect(parseOffsetSpec('0:5, 2:7')).toEqual({
      perPartition: new Map([
        [0, 5n],
        [2, 7n],
      ]),
    });
    expect(() => parseOffsetSpec('0:x')).toThrow(/is not an offset/);
  });
  it('plans inclusive ranges clamped to the log, skipping empty ones', () => {
    const offsets = [
      { partition: 0, low: '10', high: '20' },
      { partition: 1, low: '0', high: '5' },
      { partition: 2, low: '0', high: '0' },
    ];
    expect(planRanges(offsets, () => 0n, undefined)).toEqual([
      { partition: 0, from: 10n, to: 19n },
      { partition: 1, from: 0n, to: 4n },
    ]);
    expect(planRanges(offsets, (p) => (p === 1 ? 3n : undefined), { all: 100n })).toEqual([
      { partition: 1, from: 3n, to: 4n },
    ]);
    expect(planRanges(offsets, () => 12n, parseOffsetSpec('0:15,1:1'))).toEqual([
      { partition: 0, from: 12n, to: 15n },
    ]);
  });
});

describe('retry-failed filter', () => {
  const now = 1_000_000;
  const job = {
    failedReason: 'Kafka produce failed: too large',
    finishedOn: now - 60_000,
    timestamp: now - 70_000,
  };
  it('matches reason and age bounds', () => {
    expect(matchesFilter(job, {}, now)).toBe(true);
    expect(matchesFilter(job, { reason: /too large/ }, now)).toBe(true);
    expect(matchesFilter(job, { reason: /^Invalid/ }, now)).toBe(false);
    expect(matchesFilter(job, { olderThanMs: 30_000 }, now)).toBe(true);
    expect(matchesFilter(job, { olderThanMs: 120_000 }, now)).toBe(false);
    expect(matchesFilter(job, { newerThanMs: 30_000 }, now)).toBe(false);
    expect(matchesFilter(job, { newerThanMs: 120_000, olderThanMs: 1000 }, now)).toBe(true);
  });

  it('tells an invalid event (UnrecoverableError last) from a Kafka failure', () => {
    expect(failedAsInvalid({ stacktrace: ['UnrecoverableError: type is required'] })).toBe(true);
    expect(
      failedAsInvalid({ stacktrace: ['UnrecoverableError: x', 'KafkaPublishError: down'] }),
    ).toBe(false);
    expect(failedAsInvalid({ stacktrace: [] })).toBe(false);
  });

  it('groups failure reasons by their first line, most frequent first', () => {
    expect(groupReasons(['a\n at x', 'b', 'a', 'x'.repeat(300)], 10)).toEqual([
      ['a', 2],
      ['b', 1],
      ['xxxxxxxxx…', 1],
    ]);
  });
});

describe('parseNdjsonLine and validateLines', () => {
  it('blank, event, malformed, invalid', () => {
    const read = (text: string, line: number): ValueLine => {
      const parsed = parseNdjsonLine(text);
      if (parsed.kind !== 'value') throw new Error(`line ${line} has no value`);
      return { line, value: parsed.value };
    };
    expect(parseNdjsonLine('   ')).toEqual({ kind: 'blank' });
    expect(parseNdjsonLine('{"type":')).toMatchObject({
      kind: 'rejected',
      reason: expect.stringMatching(/^malformed JSON/),
    });
    const ok = read('{"type":"t","sourceType":"a","sourceId":"b"}', 1);
    const notObject = read('[1]', 2);
    const tooLarge = read('{"type":"t","sourceType":"a","sourceId":"b","payload":"xxxx"}', 3);
    expect(validateLines([ok], 1000)).toMatchObject({
      events: [{ type: 't', sourceType: 'a', sourceId: 'b' }],
      rejected: [],
    });
    expect(validateLines([ok, notObject], 1000)).toMatchObject({
      events: [{ type: 't' }],
      rejected: [{ line: 2, reason: 'event must be a JSON object' }],
    });
    expect(validateLines([tooLarge], 3)).toMatchObject({
      events: [],
      rejected: [
        {
          line: 3,
          reason: expect.stringMatching(/^payload: payload is 6 bytes; the limit is 3 bytes/),
        },
      ],
    });
  });
});

describe('doctor helpers', () => {
  it('compareVersions', () => {
    expect(compareVersions('7.0.15', '6.2.0')).toBeGreaterThan(0);
    expect(compareVersions('6.2', '6.2.0')).toBe(0);
    expect(compareVersions('6.0.9', '6.2.0')).toBeLessThan(0);
  });
  it('keyspace flags: E and x (A covers x)', () => {
    expect(keyspaceEventsCheck('xE').status).toBe('OK');
    expect(keyspaceEventsCheck('AKE').status).toBe('OK');
    const w = keyspaceEventsCheck('Kl');
    expect(w.status).toBe('WARN');
    expect(w.fix).toContain('"KlEx"');
    expect(keyspaceEventsCheck('').detail).toMatch(/lacks Ex/);
  });
  it('redacts passwords', () => {
    expect(redactUrl('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('start credentials', () => {
  it('generates a password for admin on loopback when none is configured', () => {
    const { config, source } = withStartCredentials(loadConfig({}));
    expect(source).toBe('generated');
    expect(config.server.user).toBe('admin');
    expect(config.server.password).toMatch(/^[\w-]{16}$/);
    expect(withStartCredentials(loadConfig({})).config.server.password).not.toBe(
      config.server.password,
    );
  });
  it('keeps configured credentials; insecure stays insecure; a public host is left to the check', () => {
    expect(withStartCredentials(loadConfig({ BOARD_TOKEN: 't'.repeat(16) })).source).toBe(
      'configured',
    );
    expect(withStartCredentials(loadConfig({ DUALSTREAM_INSECURE: '1' })).source).toBe('insecure');
    const pub = withStartCredentials(loadConfig({ HOST: '0.0.0.0' }));
    expect(pub.config.server.password).toBeUndefined();
  });
});

describe('reportError', () => {
  it('config and usage errors exit 2, others 1, never with a stack', () => {
    const out: string[] = [];
    expect(
      reportError(new ConfigError([{ variable: 'PORT', message: 'bad' }]), (s) => out.push(s)),
    ).toBe(2);
    expect(reportError(new UsageError('nope'), (s) => out.push(s))).toBe(2);
    expect(reportError(new Error('boom'), (s) => out.push(s))).toBe(1);
    expect(out).toEqual([
      'dualstream: Invalid configuration:\n  - PORT: bad\n',
      'dualstream: nope\n',
      'dualstream: boom\n',
    ]);
  });
});

describe('packageVersion', () => {
  it('is the version in package.json (what dualstream --version prints)', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    expect(packageVersion()).toBe(pkg.version);
  });
});
