// docker-compose.yml must keep the settings the code and the local infra script rely on.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEFAULT_KAFKA_VERSION } from '../../scripts/infra.mjs';

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  ports?: string[];
  environment?: Record<string, string | number>;
  profiles?: string[];
  volumes?: string[];
  depends_on?: unknown;
}

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as {
  services: Record<string, Service>;
};

function service(name: string): Service {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
}

const commandLine = (s: Service): string =>
  Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? '');

/** "127.0.0.1:9092:19092" → { published: 9092, target: 19092 } */
function portMappings(s: Service): { published: number; target: number }[] {
  return (s.ports ?? []).map((p) => {
    const parts = String(p).split(':');
    return { published: Number(parts.at(-2)), target: Number(parts.at(-1)) };
  });
}

describe('docker-compose.yml', () => {
  it('runs Kafka in KRaft mode on 9092, the same version as the local broker', () => {
    const kafka = service('kafka');
    expect(kafka.image).toBe(`apache/kafka:${DEFAULT_KAFKA_VERSION}`);
    const env = kafka.environment ?? {};
    expect(String(env.KAFKA_PROCESS_ROLES).split(',').sort()).toEqual(['broker', 'controller']);
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^1@kafka:\d+$/);
    expect(Number(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR)).toBe(1);
    expect(Number(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR)).toBe(1);

    // Containers bootstrap from kafka:9092, the host from 127.0.0.1:9092: each listener must
    // advertise the address its clients can reach.
    const listeners = String(env.KAFKA_LISTENERS).split(',');
    const advertised = String(env.KAFKA_ADVERTISED_LISTENERS).split(',');
    expect(advertised).toContain('DOCKER://kafka:9092');
    expect(listeners).toContain('DOCKER://:9092');
    const host = advertised.find((l) => l.startsWith('HOST://'));
    expect(host).toBe('HOST://127.0.0.1:9092');
    const hostListenerPort = Number(
      listeners
        .find((l) => l.startsWith('HOST://'))
        ?.split(':')
        .at(-1),
    );
    expect(portMappings(kafka)).toContainEqual({ published: 9092, target: hostListenerPort });
  });

  it('runs Redis 7 with expiry notifications and no eviction', () => {
    const redis = service('redis');
    expect(redis.image).toMatch(/^redis:7/);
    const cmd = commandLine(redis);
    const events = /--notify-keyspace-events\s+(\S+)/.exec(cmd)?.[1] ?? '';
    expect(events).toContain('E');
    expect(events).toContain('x');
    expect(cmd).toMatch(/--maxmemory-policy\s+noeviction/);
    expect(portMappings(redis)).toContainEqual({ published: 6379, target: 6379 });
  });

  it('builds the app and points it at the compose Kafka and Redis', () => {
    const app = service('app');
    expect(app.build).toBeDefined();
    expect(commandLine(app)).toBe('npx dualstream start');
    const env = app.environment ?? {};
    expect(env.KAFKA_BROKERS).toBe('kafka:9092');
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    expect(env.HOST).toBe('0.0.0.0');
    expect(String(env.BOARD_USER)).toMatch(/^\$\{BOARD_USER/);
    expect(String(env.BOARD_PASSWORD)).toMatch(/^\$\{BOARD_PASSWORD/);
    expect(portMappings(app)).toContainEqual({ published: 3000, target: 3000 });
  });

  it('puts Prometheus and Grafana behind the observability profile', () => {
    const prometheus = service('prometheus');
    const grafana = service('grafana');
    expect(prometheus.profiles).toEqual(['observability']);
    expect(grafana.profiles).toEqual(['observability']);
    expect(prometheus.volumes?.some((v) => v.startsWith('./dashboards/prometheus.yml:'))).toBe(
      true,
    );
    // dashboards/prometheus.yml loads alerts.yml from its own directory.
    expect(prometheus.volumes).toContain('./dashboards/alerts.yml:/etc/prometheus/alerts.yml:ro');
    expect(grafana.volumes?.some((v) => v.startsWith('./dashboards:'))).toBe(true);
    expect(grafana.volumes).toContain(
      './dashboards/grafana/provisioning:/etc/grafana/provisioning:ro',
    );
    for (const name of ['kafka', 'redis', 'app']) expect(service(name).profiles).toBeUndefined();
  });

  it('has a Prometheus config that scrapes the app /metrics', () => {
    const file = fileURLToPath(new URL('dashboards/prometheus.yml', root));
    const prom = parse(readFileSync(file, 'utf8')) as {
      scrape_configs: { metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const job = prom.scrape_configs.find((j) =>
      j.static_configs.some((c) => c.targets.includes('app:3000')),
    );
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
  });
});
