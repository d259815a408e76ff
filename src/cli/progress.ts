import cliProgress from 'cli-progress';

/** A progress bar on stderr; silent when stderr is not a terminal (pipes, CI, tests). */
export interface Progress {
  setTotal(total: number): void;
  increment(by?: number): void;
  stop(): void;
}

/** Create a progress bar labelled `label`, with `total` steps (0 = unknown yet). */
export function createProgress(label: string, total = 0): Progress {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    setTotal: (t) => bar.setTotal(t),
    increment: (by = 1) => bar.increment(by),
    stop: () => bar.stop(),
  };
}
