// The soak's verdict on one per-minute series: its slope and whether it is flat within noise.

/** Least-squares slope per minute, and whether the fitted change is within the noise. */
export function trend(ys: number[]): { slopePerMinute: number; flat: boolean; changePct: number } {
  const n = ys.length;
  if (n < 3) return { slopePerMinute: Number.NaN, flat: false, changePct: Number.NaN };
  const xs = ys.map((_, i) => i);
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i += 1) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxy / sxx;
  const residuals = ys.map((y, i) => y - (my + slope * (xs[i]! - mx)));
  const sd = Math.sqrt(residuals.reduce((a, r) => a + r * r, 0) / Math.max(1, n - 2));
  const change = slope * (n - 1);
  // Flat: the whole fitted change is within twice the scatter, or within 5% of the level.
  const flat = Math.abs(change) <= Math.max(2 * sd, 0.05 * Math.abs(my));
  return { slopePerMinute: slope, flat, changePct: my === 0 ? 0 : (change / my) * 100 };
}
