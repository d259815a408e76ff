// The soak's flatness verdict (pure logic): a least-squares slope, flat when the fitted change over
// the run is within twice the scatter around the fit or within 5% of the level.
import { describe, expect, it } from 'vitest';
import { trend } from '../soak/trend.js';

describe('soak trend', () => {
  it('finds the slope of a straight line and calls a steady climb not flat', () => {
    const t = trend([100, 110, 120, 130, 140, 150]);
    expect(t.slopePerMinute).toBeCloseTo(10);
    expect(t.changePct).toBeCloseTo((50 / 125) * 100);
    expect(t.flat).toBe(false);
  });

  it('calls noise around a level flat', () => {
    expect(trend([200, 207, 195, 204, 198, 203, 196]).flat).toBe(true);
  });

  it('calls a small drift within 5% of the level flat even without scatter', () => {
    expect(trend([1000, 1005, 1010, 1015, 1020]).flat).toBe(true);
  });

  it('gives no verdict on fewer than three points', () => {
    const t = trend([1, 2]);
    expect(Number.isNaN(t.slopePerMinute)).toBe(true);
    expect(t.flat).toBe(false);
  });
});
