import { describe, expect, it } from 'vitest';
import { runPool, type TaskOutcome } from '../../../sim/sweep/pool.ts';

const MODULE = new URL('./double-task.ts', import.meta.url);
type Out = { value: number; thread: number };

async function collect(inputs: unknown[], workers: number, extra: { signal?: AbortSignal } = {}) {
  const outcomes = new Map<number, TaskOutcome<Out>>();
  const order: number[] = [];
  await runPool<unknown, Out>(
    inputs.map((input, id) => ({ id, input })),
    { module: MODULE, workers, ...extra },
    (id, o) => {
      expect(outcomes.has(id)).toBe(false);
      outcomes.set(id, o);
      order.push(id);
    },
  );
  return { outcomes, order };
}

describe('runPool', () => {
  it('runs TypeScript tasks in worker threads, each exactly once', async () => {
    const { outcomes } = await collect([1, 2, 3, 4, 5, 6, 7, 8], 2);
    expect(outcomes.size).toBe(8);
    for (const [id, o] of outcomes) expect(o).toMatchObject({ ok: true, output: { value: 2 * (id + 1) } });
    const threads = new Set([...outcomes.values()].map((o) => (o.ok ? o.output.thread : -1)));
    expect(threads.has(0)).toBe(false); // not the main thread
  });

  it('records a throwing task as a one-line error and goes on', async () => {
    const { outcomes } = await collect([1, -2, 3], 1);
    expect(outcomes.get(1)).toEqual({ ok: false, error: 'RangeError: negative input -2' });
    expect(outcomes.get(2)).toMatchObject({ ok: true, output: { value: 6 } });
  });

  it('fails the tasks of a dead worker as crashed and replaces the worker', async () => {
    const { outcomes } = await collect([1, 'crash', 3, 4, 5], 1);
    expect(outcomes.get(1)).toMatchObject({ ok: false, crashed: true });
    expect((outcomes.get(1) as { error: string }).error).toMatch(/^worker crashed/);
    expect(outcomes.get(4)).toMatchObject({ ok: true, output: { value: 10 } });
    expect(outcomes.size).toBe(5);
  });

  it('runs inline with 0 workers, in the main thread', async () => {
    const { outcomes, order } = await collect([1, -1, 2], 0);
    expect(order).toEqual([0, 1, 2]);
    expect(outcomes.get(0)).toMatchObject({ ok: true, output: { value: 2, thread: 0 } });
    expect(outcomes.get(1)).toMatchObject({ ok: false });
  });

  it('stops handing out tasks when aborted, finishing those in flight', async () => {
    const ac = new AbortController();
    const done: number[] = [];
    await runPool<unknown, Out>(
      Array.from({ length: 20 }, (_, id) => ({ id, input: 'slow' })),
      { module: MODULE, workers: 1, inflight: 1, signal: ac.signal },
      (id) => {
        done.push(id);
        ac.abort();
      },
    );
    expect(done).toEqual([0]);
  });

  it('runs nothing when aborted before it starts', async () => {
    const ac = new AbortController();
    ac.abort();
    const { outcomes } = await collect([1, 2, 3], 2, { signal: ac.signal });
    expect(outcomes.size).toBe(0);
  });

  it('rejects when the task module cannot load', async () => {
    await expect(
      runPool([{ id: 0, input: 1 }], { module: MODULE, exportName: 'notAFunction', workers: 1 }, () => {}),
    ).rejects.toThrow(/failed to start.*does not export a function notAFunction/);
  });
});
