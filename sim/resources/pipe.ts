/**
 * A byte pipe: a bounded FIFO buffer (a socket's send buffer) in front of a line of fixed rate and latency.
 * Fluid within the buffer: bytes leave at `bytesPerSecond` in order and arrive `latencyNs` later.
 * One rule: the buffer level stays between 0 and `capacity`; `offer` accepts only what fits (like a
 * non-blocking send), so a full pipe pushes back on its writer.
 * Methods take the time explicitly: a writer running a sequential section on its own local clock (ahead
 * of the environment's) can use it; times passed must not go backwards.
 */
import { SimArgumentError } from '../errors.ts';
import { type Ns, S } from '../time.ts';

/** A fixed-rate, fixed-latency line behind a bounded buffer. */
export class Pipe {
  private t0: Ns = 0;
  private level0 = 0;
  /** Bytes accepted since creation (the stream offset of the next byte). */
  accepted = 0;

  constructor(
    readonly bytesPerSecond: number,
    readonly capacity: number,
    readonly latencyNs: Ns,
  ) {
    if (!(bytesPerSecond > 0)) throw new SimArgumentError(`pipe rate must be > 0 (got ${bytesPerSecond})`);
    if (!(capacity > 0)) throw new SimArgumentError(`pipe capacity must be > 0 (got ${capacity})`);
    if (!(latencyNs >= 0)) throw new SimArgumentError(`pipe latency must be >= 0 (got ${latencyNs})`);
  }

  /** Bytes waiting in the buffer at time `at`. */
  level(at: Ns): number {
    const drained = ((at - this.t0) * this.bytesPerSecond) / S;
    return drained >= this.level0 ? 0 : this.level0 - drained;
  }

  /** Room in the buffer at time `at`. */
  free(at: Ns): number {
    return this.capacity - this.level(at);
  }

  /** Accept up to `bytes` at time `at` (as much as fits); returns the number accepted. */
  offer(bytes: number, at: Ns): number {
    const level = this.level(at);
    // Whole bytes only: a socket accepts an integer count.
    const n = Math.min(bytes, Math.floor(this.capacity - level));
    if (n <= 0) return 0;
    this.t0 = at;
    this.level0 = level + n;
    this.accepted += n;
    return n;
  }

  /** The first time at or after `at` when the buffer holds at most `bytes`. */
  timeLevelAtMost(bytes: number, at: Ns): Ns {
    const excess = this.level(at) - bytes;
    return excess <= 0 ? at : at + Math.ceil((excess * S) / this.bytesPerSecond);
  }

  /** The time every byte accepted so far has arrived at the far end (seen from `at`). */
  timeAllDelivered(at: Ns): Ns {
    return this.timeLevelAtMost(0, at) + this.latencyNs;
  }
}
