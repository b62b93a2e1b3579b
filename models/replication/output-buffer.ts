/**
 * The guest's outgoing network packets and Remus's output buffer (qemu-spec.md §6): packets leave the
 * guest as a Poisson stream while it runs; with buffering, those produced in an epoch are held until the
 * checkpoint that covers them is acknowledged (Remus's sch_plug qdisc, Kemari's event-tap), without it
 * they leave at once. Arrival times are drawn in guest run time, so a paused guest sends nothing.
 */
import { createRng, type Rng } from '../../sim/random.ts';
import { type Ns, S } from '../../sim/time.ts';
import { REPLICATION_STREAM } from './constants.ts';

/** The guest's packet stream and the packets of the current epoch. */
export class OutputStream {
  /** Production times of the packets of the epoch being run (not yet covered by a checkpoint). */
  readonly pending: Ns[] = [];
  /** Release delays of every packet released so far, ns. */
  readonly delays: Ns[] = [];
  /** Guest run time left until the next packet, ns. */
  private untilNext: number;
  private readonly rng: Rng;
  private readonly meanGapNs: number;

  constructor(
    seed: number,
    packetsPerS: number,
    readonly buffering: boolean,
  ) {
    this.rng = createRng(seed, REPLICATION_STREAM.packets);
    this.meanGapNs = packetsPerS > 0 ? S / packetsPerS : Number.POSITIVE_INFINITY;
    this.untilNext = this.gap();
  }

  /**
   * The time of the next packet if the guest runs from `from` on (Kemari's event-tap stops the guest there),
   * rounded up to a whole ns; Infinity when the guest sends nothing.
   */
  nextPacketAt(from: Ns): Ns {
    return Math.ceil(from + this.untilNext);
  }

  /**
   * The guest runs from `from` to `to`: its packets join the epoch's pending set. With `inclusive`, a
   * packet due at `to` itself is included (the packet that triggered the checkpoint).
   */
  run(from: Ns, to: Ns, inclusive = false): void {
    let t = from + this.untilNext;
    while (t < to || (inclusive && t <= to)) {
      this.pending.push(Math.floor(t));
      t += this.gap();
    }
    this.untilNext = t - to; // > 0, or an inclusive run's packet just past `to` by under a ns
  }

  /** Packets of the pending set produced at or before `t`. */
  pendingUpTo(t: Ns): number {
    const p = this.pending;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The checkpoint covering the pending packets is acknowledged at `ackNs`: release them. Returns how many. */
  release(ackNs: Ns): number {
    const n = this.pending.length;
    for (const p of this.pending) this.delays.push(this.buffering ? ackNs - p : 0);
    this.pending.length = 0;
    return n;
  }

  private gap(): number {
    if (!Number.isFinite(this.meanGapNs)) return Number.POSITIVE_INFINITY;
    // Exponential gaps; 1 - u is in (0, 1], so the log is finite.
    return -Math.log(1 - this.rng.float()) * this.meanGapNs;
  }
}
