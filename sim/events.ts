/** Events of the kernel (after SimPy's events.py): an event is pending, then triggered, then processed. */
import type { Environment } from './env.ts';
import { Interrupt, SimArgumentError, SimStateError } from './errors.ts';
import type { Ns } from './time.ts';

/** Scheduling priority: URGENT runs before NORMAL at the same instant (process starts, interrupts). */
export const URGENT = 0;
export const NORMAL = 1;

const PENDING = 0;
const TRIGGERED = 1;
const PROCESSED = 2;

/** A function called with an event when it is processed (bivariant, so events of any value type mix). */
export type EventCallback<T> = { bivarianceHack(ev: SimEvent<T>): void }['bivarianceHack'];

/** Something that happens at one instant; processes wait for it by yielding it. */
export class SimEvent<T = unknown> {
  /** Functions called with the event when it is processed; null once processed. */
  callbacks: Array<EventCallback<T>> | null = [];
  /** The value (or, when `ok` is false, the error) the event carries once triggered. */
  value: T | undefined = undefined;
  error: unknown = undefined;
  ok = true;
  /** Set by a waiter that handles a failure, so run() does not throw it. */
  defused = false;
  protected state = PENDING;

  constructor(readonly env: Environment) {}

  get triggered(): boolean {
    return this.state !== PENDING;
  }

  get processed(): boolean {
    return this.state === PROCESSED;
  }

  /** Trigger the event successfully after `delay` ns (default now). */
  succeed(value?: T, delay: Ns = 0): this {
    if (this.state !== PENDING) throw new SimStateError('event already triggered');
    this.state = TRIGGERED;
    this.ok = true;
    this.value = value;
    this.env.schedule(this, delay, NORMAL);
    return this;
  }

  /** Trigger the event as failed; a waiting process gets `error` thrown into it. */
  fail(error: unknown, delay: Ns = 0): this {
    if (this.state !== PENDING) throw new SimStateError('event already triggered');
    this.state = TRIGGERED;
    this.ok = false;
    this.error = error;
    this.env.schedule(this, delay, NORMAL);
    return this;
  }

  /** Called by the environment when the event is popped from the queue. */
  process(): void {
    this.state = PROCESSED;
    const cbs = this.callbacks;
    this.callbacks = null;
    if (cbs) for (const cb of cbs) cb(this);
    if (!this.ok && !this.defused) throw this.error;
  }

  /** Mark as triggered without scheduling (used by subclasses that schedule themselves). */
  protected markTriggered(ok: boolean): void {
    this.state = TRIGGERED;
    this.ok = ok;
  }
}

/** An event that triggers itself `delay` ns after creation. */
export class Timeout<T = undefined> extends SimEvent<T> {
  constructor(env: Environment, delay: Ns, value?: T) {
    super(env);
    if (!(delay >= 0) || !Number.isFinite(delay))
      throw new SimArgumentError(`negative or invalid delay ${delay}`);
    this.markTriggered(true);
    this.value = value;
    env.schedule(this, delay, NORMAL);
  }
}

/** The body of a process: a generator that yields events and returns the process's value. */
export type ProcessBody<R> = Generator<SimEvent<unknown>, R, unknown>;

/** A running generator; it is itself an event, triggered with the generator's return value. */
export class Process<R = unknown> extends SimEvent<R> {
  private target: SimEvent<unknown> | null = null;
  private readonly resumeCb = (ev: SimEvent<unknown>) => this.resume(ev);

  constructor(
    env: Environment,
    private readonly body: ProcessBody<R>,
    readonly name = 'process',
  ) {
    super(env);
    if (typeof body?.next !== 'function') throw new SimArgumentError(`${name}: not a generator`);
    const init = new SimEvent<unknown>(env);
    init.callbacks!.push(this.resumeCb);
    this.target = init;
    (init as SimEvent<unknown>).value = undefined;
    scheduleRaw(init, env, 0, URGENT);
  }

  /** Whether the generator is still running. */
  get isAlive(): boolean {
    return !this.triggered;
  }

  /** Throw an `Interrupt(cause)` into the process at the current instant. */
  interrupt(cause?: unknown): void {
    if (this.triggered) throw new SimStateError(`${this.name} has terminated and cannot be interrupted`);
    const irq = new SimEvent<unknown>(this.env);
    irq.callbacks!.push((ev) => {
      if (this.triggered) return;
      // Stop waiting for the old target; the interrupt takes its place.
      const t = this.target;
      if (t?.callbacks) {
        const i = t.callbacks.indexOf(this.resumeCb);
        if (i >= 0) t.callbacks.splice(i, 1);
      }
      this.resume(ev);
    });
    irq.ok = false;
    irq.error = new Interrupt(cause);
    irq.defused = true;
    scheduleRaw(irq, this.env, 0, URGENT);
  }

  private resume(event: SimEvent<unknown>): void {
    let ev: SimEvent<unknown> = event;
    for (;;) {
      let step: IteratorResult<SimEvent<unknown>, R>;
      try {
        if (ev.ok) {
          step = this.body.next(ev.value);
        } else {
          ev.defused = true;
          step = this.body.throw(ev.error);
        }
      } catch (err) {
        this.target = null;
        this.fail(err);
        return;
      }
      if (step.done) {
        this.target = null;
        this.succeed(step.value);
        return;
      }
      const next = step.value;
      if (!(next instanceof SimEvent)) {
        this.target = null;
        this.fail(new SimArgumentError(`${this.name} yielded a non-event: ${String(next)}`));
        return;
      }
      if (next.callbacks) {
        next.callbacks.push(this.resumeCb);
        this.target = next;
        return;
      }
      // Already processed: continue at once with its value.
      ev = next;
    }
  }
}

function scheduleRaw(ev: SimEvent<unknown>, env: Environment, delay: Ns, priority: number): void {
  (ev as unknown as { state: number }).state = TRIGGERED;
  env.schedule(ev, delay, priority);
}

/** Triggers when every event in `events` has succeeded (value: their values), or fails with the first failure. */
export function allOf(env: Environment, events: SimEvent<unknown>[]): SimEvent<unknown[]> {
  return condition(env, events, (done, total) => done === total);
}

/** Triggers when any event in `events` has succeeded (value: the values of those processed so far). */
export function anyOf(env: Environment, events: SimEvent<unknown>[]): SimEvent<unknown[]> {
  return condition(env, events, (done) => done > 0);
}

function condition(
  env: Environment,
  events: SimEvent<unknown>[],
  met: (done: number, total: number) => boolean,
): SimEvent<unknown[]> {
  const out = new SimEvent<unknown[]>(env);
  let done = 0;
  const check = (ev: SimEvent<unknown>) => {
    if (out.triggered) {
      if (!ev.ok) ev.defused = true;
      return;
    }
    if (!ev.ok) {
      ev.defused = true;
      out.fail(ev.error);
      return;
    }
    done++;
    if (met(done, events.length)) out.succeed(events.filter((e) => e.processed).map((e) => e.value));
  };
  if (met(0, events.length)) {
    out.succeed([]);
    return out;
  }
  for (const ev of events) {
    if (ev.callbacks) ev.callbacks.push(check);
    else check(ev);
  }
  return out;
}
