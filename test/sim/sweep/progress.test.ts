import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration } from '../../../sim/sweep/progress.ts';

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 100, write: (t: string) => out.push(t) } };
}

describe('progress', () => {
  it('formats durations', () => {
    expect(formatDuration(42.4)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });

  it('shows done/total, rate and ETA from the clock', () => {
    let now = 0;
    const { out, stream } = sink(false);
    const p = createProgress({ total: 100, stream, clock: () => now, intervalMs: 1000 });
    for (let i = 0; i < 40; i++) {
      now += 50; // 20 runs/s
      p.tick(i === 3);
    }
    expect(p.status()).toBe('40/100 40% 20 runs/s ETA 3s (1 failed)');
    // Non-TTY: one line at the first tick, then one per second of clock.
    expect(out).toEqual([
      'sweep: 1/100 1% 20 runs/s ETA 5s\n',
      'sweep: 21/100 21% 20 runs/s ETA 4s (1 failed)\n',
    ]);
    p.finish();
    expect(out.at(-1)).toBe('sweep: 40/100 40% 20 runs/s ETA 3s (1 failed)\n');
  });

  it('counts resumed runs in done but not in the rate', () => {
    let now = 0;
    const { stream } = sink(false);
    const p = createProgress({ total: 100, skipped: 90, stream, clock: () => now });
    now = 1000;
    p.tick();
    p.tick();
    expect(p.status()).toBe('92/100 92% 2.0 runs/s ETA 4s');
  });

  it('redraws a bar in place on a TTY and ends its line when finished', () => {
    let now = 0;
    const { out, stream } = sink(true);
    const p = createProgress({ total: 4, stream, clock: () => now });
    for (let i = 0; i < 4; i++) {
      now += 1000;
      p.tick();
    }
    p.finish();
    expect(out.every((t) => t.startsWith('\r\x1b[2K'))).toBe(true);
    expect(out.at(-1)).toMatch(/\[#{40}\] 4\/4 100% 1\.0 runs\/s in 4s\n$/);
    expect(out.slice(0, -1).some((t) => t.endsWith('\n'))).toBe(false);
  });
});
