/**
 * A single-threaded event loop (QEMU's main loop, a libvirtd worker): handlers run one at a time, to
 * completion, in the order they became ready. A handler is synchronous: it receives its start time, runs
 * its work on that local clock (which may run ahead of the environment's) and returns its end time.
 * A handler that becomes ready while the loop is busy waits until the loop is free.
 */
import type { Environment } from '../env.ts';
import { SimEvent } from '../events.ts';
import type { Ns } from '../time.ts';

/** A handler: given its start time, does its work and returns the time it finished. */
export type LoopHandler = (start: Ns) => Ns;

/** Serialises handlers on one thread of execution. */
export class EventLoop {
  /** The loop is busy until this time. */
  busyUntil: Ns = 0;

  constructor(private readonly env: Environment) {}

  /** Run `handler` when the loop is free, at time `at` or later (default now). */
  post(handler: LoopHandler, at: Ns = this.env.now): void {
    const ev = new SimEvent<unknown>(this.env);
    ev.callbacks!.push(() => this.dispatch(handler));
    ev.succeed(undefined, Math.max(0, at - this.env.now));
  }

  /** Like post, but returns an event that succeeds (at the handler's end time) with the handler's end. */
  call(handler: LoopHandler, at: Ns = this.env.now): SimEvent<Ns> {
    const done = new SimEvent<Ns>(this.env);
    this.post((start) => {
      const end = handler(start);
      done.succeed(end, end - this.env.now);
      return end;
    }, at);
    return done;
  }

  private dispatch(handler: LoopHandler): void {
    const now = this.env.now;
    if (this.busyUntil > now) {
      // Busy: queue behind the running handler (FIFO among those deferred to the same instant).
      this.post(handler, this.busyUntil);
      return;
    }
    const end = handler(now);
    this.busyUntil = Math.max(end, now);
  }
}
