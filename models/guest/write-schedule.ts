/**
 * When the guest's writes happen: the k-th write at anchor + (k - anchorK) * interval, an absolute schedule
 * like the guest program's, so the long-run rate is exact. The rate can change (a CPU throttle) and the
 * schedule can stop (vm_stop) and resume; a change keeps the fraction of the interval already elapsed.
 */
import { S } from '../../sim/time.ts';

/** An absolute, re-anchorable schedule of write instants. */
export class WriteSchedule {
  /** Time of the next write, or Infinity when none is due (stopped, or rate 0). */
  nextNs = Number.POSITIVE_INFINITY;
  /** Writes done so far. */
  k = 0;
  private anchorNs = 0;
  private anchorK = 0;
  private intervalNs = Number.POSITIVE_INFINITY;
  private factor = 1;
  private running = false;

  constructor(
    private readonly ratePerS: number,
    startNs = 0,
  ) {
    this.start(startNs);
  }

  /** Run from `t` on, at the nominal rate times the current factor. */
  start(t: number): void {
    this.running = true;
    this.anchorNs = t;
    this.anchorK = this.k;
    this.reschedule();
  }

  /** Stop at `t`: no write is due until `start` again. Call after applying writes up to `t`. */
  stop(): void {
    this.running = false;
    this.nextNs = Number.POSITIVE_INFINITY;
  }

  /** Scale the rate by `factor` from time `t` on (1 = nominal). */
  setFactor(t: number, factor: number): void {
    if (factor === this.factor) return;
    const oldInterval = this.intervalNs;
    const pending = this.nextNs;
    this.factor = factor;
    if (!this.running) return;
    const rate = this.ratePerS * factor;
    const newInterval = rate > 0 ? S / rate : Number.POSITIVE_INFINITY;
    // Keep the fraction of the current interval already elapsed.
    let due: number;
    if (!Number.isFinite(pending) || !Number.isFinite(oldInterval)) due = t + newInterval;
    else due = t + ((pending - t) / oldInterval) * newInterval;
    this.intervalNs = newInterval;
    this.anchorK = this.k;
    this.anchorNs = due;
    this.nextNs = Number.isFinite(due) ? Math.floor(due) : Number.POSITIVE_INFINITY;
  }

  /** The count of writes (k) once every write due at or before `t` is done; at least the current k. */
  dueEnd(t: number): number {
    if (this.nextNs > t) return this.k;
    const i = this.intervalNs;
    // t_k = floor(anchor + (k - anchorK)·i) <= t  <=>  k < anchorK + (t + 1 - anchor) / i; then settle
    // the float edge with the exact formula `advance` uses.
    let end = Math.max(this.k + 1, this.anchorK + Math.ceil((t + 1 - this.anchorNs) / i));
    while (Math.floor(this.anchorNs + (end - this.anchorK) * i) <= t) end++;
    while (end > this.k + 1 && Math.floor(this.anchorNs + (end - 1 - this.anchorK) * i) > t) end--;
    return end;
  }

  /** Mark every write before `end` done and compute the next instant. */
  advanceTo(end: number): void {
    this.k = end;
    const i = this.intervalNs;
    this.nextNs = Number.isFinite(i)
      ? Math.floor(this.anchorNs + (this.k - this.anchorK) * i)
      : Number.POSITIVE_INFINITY;
  }

  /** Mark the pending write done and compute the next instant. */
  advance(): void {
    this.k++;
    const i = this.intervalNs;
    this.nextNs = Number.isFinite(i)
      ? Math.floor(this.anchorNs + (this.k - this.anchorK) * i)
      : Number.POSITIVE_INFINITY;
  }

  private reschedule(): void {
    const rate = this.ratePerS * this.factor;
    this.intervalNs = rate > 0 ? S / rate : Number.POSITIVE_INFINITY;
    this.nextNs = Number.isFinite(this.intervalNs) ? Math.floor(this.anchorNs) : Number.POSITIVE_INFINITY;
  }
}
