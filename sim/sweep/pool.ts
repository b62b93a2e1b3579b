/**
 * A pool of worker threads running one task function over many inputs. The function lives in a module
 * (TypeScript is fine: the worker entry registers tsx) exporting `exportName(input) → output`. A task that
 * throws becomes a failed outcome with a one-line error; a worker that dies fails its tasks in flight
 * (`crashed`) and is replaced. `workers: 0` runs the tasks in this thread, one at a time.
 */
import { Worker } from 'node:worker_threads';

/** Options of `runPool`. */
export interface PoolOptions {
  /** URL (or file URL string) of the module exporting the task function. */
  module: string | URL;
  /** Name of the task function. Default 'runTask'. */
  exportName?: string;
  /** Worker threads; 0 runs tasks inline. */
  workers: number;
  /** Tasks queued per worker, so a worker never waits for the next message. Default 2. */
  inflight?: number;
  /** Stop handing out tasks; tasks in flight still finish. */
  signal?: AbortSignal;
}

/** A task to run. */
export interface PoolTask<I> {
  id: number;
  input: I;
}

/** How a task ended. */
export type TaskOutcome<O> = { ok: true; output: O } | { ok: false; error: string; crashed?: boolean };

const WORKER_ENTRY = new URL('./worker.js', import.meta.url);

/** Run every task; `onDone` is called once per task, in completion order. Resolves when all are done. */
export async function runPool<I, O>(
  tasks: readonly PoolTask<I>[],
  opts: PoolOptions,
  onDone: (id: number, outcome: TaskOutcome<O>) => void,
): Promise<void> {
  const exportName = opts.exportName ?? 'runTask';
  const module = String(opts.module);
  if (opts.workers <= 0) return runInline(tasks, module, exportName, opts.signal, onDone);
  const inflight = Math.max(1, opts.inflight ?? 2);
  let next = 0;
  let finished = 0;
  const target = tasks.length;
  const n = Math.min(opts.workers, tasks.length);
  if (n === 0 || opts.signal?.aborted) return;

  return new Promise<void>((resolve, reject) => {
    const live = new Set<Worker>();
    let failed = false;
    const stopped = () => failed || opts.signal?.aborted === true;

    const maybeEnd = () => {
      const inFlight = [...live].some((w) => (busy.get(w)?.size ?? 0) > 0);
      if (finished === target || (stopped() && !inFlight)) {
        for (const w of live) void w.terminate();
        live.clear();
        if (!failed) resolve();
      }
    };
    const busy = new Map<Worker, Set<number>>();

    const feed = (w: Worker) => {
      const mine = busy.get(w)!;
      while (!stopped() && mine.size < inflight && next < tasks.length) {
        const t = tasks[next++]!;
        mine.add(t.id);
        w.postMessage({ id: t.id, input: t.input });
      }
    };

    const spawn = () => {
      const w = new Worker(WORKER_ENTRY, { workerData: { module, exportName } });
      let ready = false;
      busy.set(w, new Set());
      live.add(w);
      w.on('message', (m: { ready?: true; id: number; ok: boolean; output?: O; error?: string }) => {
        if (m.ready) {
          ready = true;
          feed(w);
          maybeEnd();
          return;
        }
        busy.get(w)!.delete(m.id);
        finished++;
        onDone(
          m.id,
          m.ok ? { ok: true, output: m.output as O } : { ok: false, error: m.error ?? 'unknown error' },
        );
        feed(w);
        maybeEnd();
      });
      w.on('error', (err) => {
        if (!ready) {
          failed = true;
          for (const x of live) void x.terminate();
          reject(new Error(`sweep worker failed to start: ${err.message}`));
          return;
        }
        lost(w, err.message);
      });
      w.on('exit', (code) => {
        if (live.has(w)) lost(w, `exited with code ${code}`);
      });
    };

    const lost = (w: Worker, why: string) => {
      if (!live.delete(w)) return;
      const ids = busy.get(w)!;
      busy.delete(w);
      for (const id of ids) {
        finished++;
        onDone(id, { ok: false, error: `worker crashed: ${why.split('\n')[0]}`, crashed: true });
      }
      if (!stopped() && next < tasks.length) spawn();
      maybeEnd();
    };

    opts.signal?.addEventListener('abort', maybeEnd, { once: true });
    for (let i = 0; i < n; i++) spawn();
  });
}

async function runInline<I, O>(
  tasks: readonly PoolTask<I>[],
  module: string,
  exportName: string,
  signal: AbortSignal | undefined,
  onDone: (id: number, outcome: TaskOutcome<O>) => void,
): Promise<void> {
  const mod = (await import(module)) as Record<string, (input: I) => O | Promise<O>>;
  const fn = mod[exportName];
  if (typeof fn !== 'function') throw new Error(`${module} does not export a function ${exportName}`);
  for (const t of tasks) {
    if (signal?.aborted) return;
    try {
      onDone(t.id, { ok: true, output: await fn(t.input) });
    } catch (err) {
      const e = err as Error;
      const text =
        err instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(err);
      onDone(t.id, { ok: false, error: text.split('\n')[0]! });
    }
    // Let timers (progress) and signals run between tasks.
    await new Promise<void>((r) => setImmediate(r));
  }
}
