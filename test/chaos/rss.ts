import fs from 'node:fs';

/** Peak resident set size (VmHWM) of a live process in KiB, from /proc; undefined elsewhere. */
export function readPeakRssKb(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Tracks the peak RSS of processes that the suite does not spawn itself (broker, redis). */
export class RssTracker {
  private readonly peaks = new Map<string, { pid: number; kb: number }>();

  /** Track `pid` under `name`; a new pid for the same name (restart) keeps the max. */
  track(name: string, pid: number | undefined): void {
    if (pid === undefined) return;
    const prev = this.peaks.get(name);
    this.peaks.set(name, { pid, kb: prev?.kb ?? 0 });
  }

  sample(): void {
    for (const entry of this.peaks.values()) {
      const kb = readPeakRssKb(entry.pid);
      if (kb !== undefined && kb > entry.kb) entry.kb = kb;
    }
  }

  peaksKb(): Record<string, number> {
    return Object.fromEntries([...this.peaks].map(([name, e]) => [name, e.kb]));
  }
}
