// Every metric a Grafana panel queries must be one the server exports, and the dashboard must
// cover every metric the library registers (an unplotted metric is usually a forgotten panel).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DualstreamMetrics } from '../../src/metrics.js';

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../dashboards/grafana-dashboard.json', import.meta.url), 'utf8'),
) as { panels: Panel[]; uid: string };

function metricNames(expr: string): string[] {
  return [...expr.matchAll(/dualstream_[a-z_]+/g)].map((m) =>
    m[0].replace(/_(bucket|sum|count)$/, ''),
  );
}

describe('Grafana dashboard', () => {
  const exported = new Set(new DualstreamMetrics().registry.getMetricsAsArray().map((m) => m.name));
  const queried = new Map<string, string>();
  for (const panel of dashboard.panels) {
    for (const t of panel.targets ?? [])
      for (const n of metricNames(t.expr)) queried.set(n, panel.title);
  }

  it('queries only metrics the server exports', () => {
    const unknown = [...queried].filter(([n]) => !exported.has(n));
    expect(unknown).toEqual([]);
    expect(queried.size).toBeGreaterThan(5);
  });

  it('plots every metric the library registers', () => {
    const unplotted = [...exported].filter((n) => !queried.has(n));
    expect(unplotted).toEqual([]);
  });

  it('every panel has a query and a unique id', () => {
    for (const p of dashboard.panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
    const ids = dashboard.panels.map((p) => (p as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('provisioning points Grafana at Prometheus and at the mounted dashboards folder', () => {
    const ds = parse(
      readFileSync(
        new URL(
          '../../dashboards/grafana/provisioning/datasources/prometheus.yml',
          import.meta.url,
        ),
        'utf8',
      ),
    ) as { datasources: Array<{ type: string; url: string }> };
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const provider = parse(
      readFileSync(
        new URL('../../dashboards/grafana/provisioning/dashboards/dualstream.yml', import.meta.url),
        'utf8',
      ),
    ) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(provider.providers[0]).toMatchObject({
      type: 'file',
      options: { path: '/var/lib/grafana/dashboards' },
    });
  });
});
