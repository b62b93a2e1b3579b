/** The simulation environment (after SimPy's core.py): the clock and the event queue, knowing no domain. */
import { SimArgumentError, SimDeadlockError } from './errors.ts';
import { NORMAL, Process, type ProcessBody, SimEvent, Timeout } from './events.ts';
import type { Ns } from './time.ts';

/** The clock and the event queue. Time is integer nanoseconds; ties run by (priority, insertion order). */
export class Environment {
  private clock: Ns;
  private seq = 0;
  // A binary heap kept as parallel arrays: no allocation per scheduled event beyond the event itself.
  private readonly times: number[] = [];
  private readonly keys: number[] = [];
  private readonly events: SimEvent<unknown>[] = [];

  constructor(initialTime: Ns = 0) {
    if (!Number.isInteger(initialTime) || initialTime < 0)
      throw new SimArgumentError(`initial time must be a non-negative integer (got ${initialTime})`);
    this.clock = initialTime;
  }

  /** The current simulated time in ns. */
  get now(): Ns {
    return this.clock;
  }

  /** Put `event` on the queue to be processed `delay` ns from now. */
  schedule(event: SimEvent<unknown>, delay: Ns = 0, priority: number = NORMAL): void {
    if (!(delay >= 0)) throw new SimArgumentError(`negative delay ${delay}`);
    const t = this.clock + Math.round(delay);
    // priority in the high part, insertion counter in the low part: FIFO among equals.
    const key = priority * 2 ** 40 + this.seq++;
    const times = this.times;
    const keys = this.keys;
    const evs = this.events;
    let i = times.length;
    times.push(t);
    keys.push(key);
    evs.push(event);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p]!;
      if (pt < t || (pt === t && keys[p]! < key)) break;
      times[i] = pt;
      keys[i] = keys[p]!;
      evs[i] = evs[p]!;
      i = p;
    }
    times[i] = t;
    keys[i] = key;
    evs[i] = event;
  }

  /** Time of the next event, or Infinity when the queue is empty. */
  peek(): Ns {
    return this.times.length > 0 ? this.times[0]! : Number.POSITIVE_INFINITY;
  }

  /** Process the next event; throws if the queue is empty or the event failed with nobody to handle it. */
  step(): void {
    const times = this.times;
    const n = times.length;
    if (n === 0) throw new SimDeadlockError('no more events');
    const keys = this.keys;
    const evs = this.events;
    const ev = evs[0]!;
    this.clock = times[0]!;
    const lastT = times.pop()!;
    const lastK = keys.pop()!;
    const lastE = evs.pop()!;
    const m = n - 1;
    if (m > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= m) break;
        const r = c + 1;
        if (r < m && (times[r]! < times[c]! || (times[r] === times[c] && keys[r]! < keys[c]!))) c = r;
        if (times[c]! > lastT || (times[c] === lastT && keys[c]! > lastK)) break;
        times[i] = times[c]!;
        keys[i] = keys[c]!;
        evs[i] = evs[c]!;
        i = c;
      }
      times[i] = lastT;
      keys[i] = lastK;
      evs[i] = lastE;
    }
    ev.process();
  }

  /**
   * Run until the queue is empty, until time `until`, or until the event `until` is processed
   * (returning its value).
   */
  run(until?: Ns | SimEvent<unknown>): unknown {
    if (until === undefined) {
      while (this.times.length > 0) this.step();
      return undefined;
    }
    if (typeof until === 'number') {
      if (until < this.clock) throw new SimArgumentError(`until (${until}) is before now (${this.clock})`);
      while (this.times.length > 0 && this.times[0]! <= until) this.step();
      this.clock = until;
      return undefined;
    }
    while (!until.processed) {
      if (this.times.length === 0)
        throw new SimDeadlockError('the queue ran dry before the awaited event was processed');
      this.step();
    }
    if (!until.ok) throw until.error;
    return until.value;
  }

  /** A new pending event, triggered by whoever holds it. */
  event<T = unknown>(): SimEvent<T> {
    return new SimEvent<T>(this);
  }

  /** An event that happens `delay` ns from now. */
  timeout<T = undefined>(delay: Ns, value?: T): Timeout<T> {
    return new Timeout<T>(this, delay, value);
  }

  /** Start a process from a generator; the returned process is an event carrying its return value. */
  process<R>(body: ProcessBody<R>, name?: string): Process<R> {
    return new Process<R>(this, body, name);
  }
}
