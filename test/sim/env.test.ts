import { describe, expect, it } from 'vitest';
import { Environment } from '../../sim/env.ts';
import { type Interrupt, SimArgumentError, SimDeadlockError } from '../../sim/errors.ts';
import { allOf, anyOf, type ProcessBody, URGENT } from '../../sim/events.ts';

describe('Environment', () => {
  it('starts at 0 with an empty queue', () => {
    const env = new Environment();
    expect(env.now).toBe(0);
    expect(env.peek()).toBe(Number.POSITIVE_INFINITY);
    expect(() => env.step()).toThrow(SimDeadlockError);
  });

  it('processes events in time order, FIFO among equal times, URGENT first', () => {
    const env = new Environment();
    const log: string[] = [];
    const mk = (name: string, delay: number, prio?: number) => {
      const ev = env.event();
      ev.callbacks!.push(() => log.push(name));
      if (prio === undefined) ev.succeed(undefined, delay);
      else {
        (ev as unknown as { state: number }).state = 1;
        env.schedule(ev, delay, prio);
      }
    };
    mk('b1', 10);
    mk('a', 5);
    mk('b2', 10);
    mk('urgent', 10, URGENT);
    mk('b3', 10);
    env.run();
    expect(log).toEqual(['a', 'urgent', 'b1', 'b2', 'b3']);
    expect(env.now).toBe(10);
  });

  it('step() and peek() drive the clock by hand', () => {
    const env = new Environment();
    env.timeout(7);
    env.timeout(3);
    expect(env.peek()).toBe(3);
    env.step();
    expect(env.now).toBe(3);
    expect(env.peek()).toBe(7);
  });

  it('run(until) stops at a time and sets the clock to it', () => {
    const env = new Environment();
    let fired = 0;
    env.timeout(5).callbacks!.push(() => fired++);
    env.timeout(15).callbacks!.push(() => fired++);
    env.run(10);
    expect(fired).toBe(1);
    expect(env.now).toBe(10);
    expect(() => env.run(5)).toThrow(SimArgumentError);
  });

  it('rejects negative delays with the value in the message', () => {
    const env = new Environment();
    expect(() => env.timeout(-1)).toThrow(/-1/);
  });
});

describe('processes', () => {
  it('yield timeouts, receive values, and return a value as an event', () => {
    const env = new Environment();
    function* child(): ProcessBody<number> {
      const v = (yield env.timeout(100, 42)) as number;
      return v + 1;
    }
    function* parent(): ProcessBody<string> {
      const r = (yield env.process(child())) as number;
      return `got ${r} at ${env.now}`;
    }
    expect(env.run(env.process(parent()))).toBe('got 43 at 100');
  });

  it('an exception in a process fails its event and propagates to a waiter', () => {
    const env = new Environment();
    function* bad(): ProcessBody<void> {
      yield env.timeout(1);
      throw new Error('boom');
    }
    function* waiter(): ProcessBody<string> {
      try {
        yield env.process(bad());
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    }
    expect(env.run(env.process(waiter()))).toBe('boom');
  });

  it('an unhandled failure stops run() loudly', () => {
    const env = new Environment();
    env.process(
      (function* (): ProcessBody<void> {
        yield env.timeout(1);
        throw new Error('unhandled');
      })(),
    );
    expect(() => env.run()).toThrow('unhandled');
  });

  it('interrupt() throws Interrupt into the process at the current time', () => {
    const env = new Environment();
    const log: string[] = [];
    const p = env.process(
      (function* (): ProcessBody<void> {
        try {
          yield env.timeout(1000);
          log.push('slept');
        } catch (e) {
          log.push(`interrupted at ${env.now} by ${(e as Interrupt).cause}`);
        }
      })(),
    );
    env.process(
      (function* (): ProcessBody<void> {
        yield env.timeout(10);
        p.interrupt('cancel');
      })(),
    );
    env.run();
    expect(log).toEqual(['interrupted at 10 by cancel']);
  });

  it('allOf waits for every event, anyOf for the first', () => {
    const env = new Environment();
    const all = allOf(env, [env.timeout(5, 'a'), env.timeout(9, 'b')]);
    const any = anyOf(env, [env.timeout(5, 'a'), env.timeout(9, 'b')]);
    let anyAt = -1;
    any.callbacks!.push(() => {
      anyAt = env.now;
    });
    expect(env.run(all)).toEqual(['a', 'b']);
    expect(env.now).toBe(9);
    expect(anyAt).toBe(5);
  });

  it('rejects a body that is not a generator', () => {
    const env = new Environment();
    expect(() => env.process(42 as never)).toThrow(SimArgumentError);
  });
});
