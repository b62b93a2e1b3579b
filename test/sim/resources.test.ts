import { describe, expect, it } from 'vitest';
import { Bitmap } from '../../sim/bitmap.ts';
import { Environment } from '../../sim/env.ts';
import { EventLoop } from '../../sim/resources/event-loop.ts';
import { Pipe } from '../../sim/resources/pipe.ts';
import { MS, S, transferNs } from '../../sim/time.ts';

describe('Pipe', () => {
  it('accepts only what fits and drains at its rate', () => {
    const pipe = new Pipe(1_000_000, 10_000, 50_000); // 1 MB/s, 10 kB buffer, 50 µs latency
    expect(pipe.offer(25_000, 0)).toBe(10_000);
    expect(pipe.offer(1, 0)).toBe(0);
    expect(pipe.level(5 * MS)).toBeCloseTo(5_000);
    expect(pipe.offer(8_000, 5 * MS)).toBe(5_000);
    expect(pipe.timeLevelAtMost(0, 5 * MS)).toBe(15 * MS);
    expect(pipe.timeAllDelivered(5 * MS)).toBe(15 * MS + 50_000);
    expect(pipe.accepted).toBe(15_000);
  });

  it('rejects impossible parameters', () => {
    expect(() => new Pipe(0, 1, 0)).toThrow(/rate/);
    expect(() => new Pipe(1, -1, 0)).toThrow(/capacity/);
  });

  it('transferNs rounds up', () => {
    expect(transferNs(1, 3)).toBe(Math.ceil(S / 3));
    expect(transferNs(0, 3)).toBe(0);
  });
});

describe('EventLoop', () => {
  it('runs handlers one at a time; a handler ready while busy waits', () => {
    const env = new Environment();
    const loop = new EventLoop(env);
    const starts: number[] = [];
    loop.post((t) => {
      starts.push(t);
      return t + 100;
    }, 10);
    loop.post((t) => {
      starts.push(t);
      return t + 5;
    }, 50);
    loop.post((t) => {
      starts.push(t);
      return t;
    }, 200);
    env.run();
    expect(starts).toEqual([10, 110, 200]);
  });
});

describe('Bitmap', () => {
  it('sets, clears, finds the next set bit and counts', () => {
    const b = new Bitmap(100);
    b.set(3);
    b.set(64);
    b.set(99);
    expect(b.nextSet(0)).toBe(3);
    expect(b.nextSet(4)).toBe(64);
    expect(b.nextSet(65)).toBe(99);
    b.clear(99);
    expect(b.nextSet(65)).toBe(-1);
    expect(b.count()).toBe(2);
    b.fill(true);
    expect(b.count()).toBe(100);
    b.fill(false);
    b.setRange(30, 70);
    expect(b.count()).toBe(40);
    expect(b.test(29)).toBe(false);
    expect(b.test(30)).toBe(true);
    expect(b.test(69)).toBe(true);
  });
});
