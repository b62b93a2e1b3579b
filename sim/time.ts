/** Simulated time: integer nanoseconds, the one unit of the kernel (safe in a JS number for 104 days). */
export type Ns = number;

/** One nanosecond, microsecond, millisecond and second in kernel time units. */
export const NS = 1;
export const US = 1_000;
export const MS = 1_000_000;
export const S = 1_000_000_000;

/** Milliseconds as a plain number, for result files (the only place times leave nanoseconds). */
export function nsToMs(t: Ns): number {
  return t / MS;
}

/** Whole nanoseconds from milliseconds (rounded: scenario inputs may be fractional). */
export function msToNs(ms: number): Ns {
  return Math.round(ms * MS);
}

/** Time to move `bytes` at `bytesPerSecond`, rounded up to a whole nanosecond so a transfer never ends early. */
export function transferNs(bytes: number, bytesPerSecond: number): Ns {
  if (bytes <= 0) return 0;
  return Math.ceil((bytes * S) / bytesPerSecond);
}
