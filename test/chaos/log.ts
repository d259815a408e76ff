/** One line of the chaos timeline: every fault and phase change, with its wall-clock time. */
export interface TimelineEntry {
  /** ISO time. */
  at: string;
  /** Seconds since the scenario started. */
  t: number;
  kind: 'phase' | 'fault' | 'recover' | 'info' | 'warn';
  message: string;
}

/**
 * The orchestrator's log. Every line carries the ISO time and the offset from the start, so that
 * a failure can be traced against the child processes' own logs (pino, ISO times as well).
 */
export class ChaosLog {
  readonly entries: TimelineEntry[] = [];

  constructor(
    readonly startedAt: number = Date.now(),
    private readonly write: (line: string) => void = (line) => console.log(line),
  ) {}

  /** Seconds since the start, one decimal. */
  elapsed(at = Date.now()): number {
    return Math.round((at - this.startedAt) / 100) / 10;
  }

  log(kind: TimelineEntry['kind'], message: string): TimelineEntry {
    const now = Date.now();
    const entry: TimelineEntry = {
      at: new Date(now).toISOString(),
      t: this.elapsed(now),
      kind,
      message,
    };
    this.entries.push(entry);
    const tag =
      kind === 'fault' ? 'FAULT  ' : kind === 'recover' ? 'RECOVER' : kind.toUpperCase().padEnd(7);
    this.write(`[chaos ${entry.at} +${entry.t.toFixed(1).padStart(6)}s] ${tag} ${message}`);
    return entry;
  }

  phase(message: string): void {
    this.log('phase', message);
  }

  info(message: string): void {
    this.log('info', message);
  }

  warn(message: string): void {
    this.log('warn', message);
  }

  fault(message: string): TimelineEntry {
    return this.log('fault', message);
  }

  recover(message: string): TimelineEntry {
    return this.log('recover', message);
  }
}
