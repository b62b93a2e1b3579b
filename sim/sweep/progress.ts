/**
 * Sweep progress on a stream (stderr): a bar redrawn in place when the stream is a terminal, otherwise a
 * plain line every `intervalMs`, so logs (Slurm output files, CI) stay readable. Shows done/total, rate
 * and ETA. Wall-clock time is read here only for display; it never reaches a result.
 */

/** Where progress goes. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Options of `createProgress`. */
export interface ProgressOptions {
  total: number;
  /** Runs already done before this session (resume): shown in done/total but not in the rate. */
  skipped?: number;
  label?: string;
  stream: ProgressStream;
  /** Redraw a bar in place; default: the stream is a TTY. */
  tty?: boolean;
  /** Minimum time between lines (non-TTY). Default 10 s. */
  intervalMs?: number;
  /** Minimum time between redraws (TTY). Default 100 ms. */
  redrawMs?: number;
  /** Milliseconds, monotonic. Default performance.now. */
  clock?: () => number;
}

/** A progress display. */
export interface Progress {
  /** Count one finished run. */
  tick(failed?: boolean): void;
  /** Print the final state (always) and end the bar's line. */
  finish(): void;
  /** The text of the current state, without bar or control characters. */
  status(): string;
}

/** Seconds as 1h02m, 3m05s or 42s. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t >= 3600) return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
  if (t >= 60) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${t}s`;
}

/** Create a progress display; nothing is printed until the first tick. */
export function createProgress(o: ProgressOptions): Progress {
  const clock = o.clock ?? (() => performance.now());
  const tty = o.tty ?? o.stream.isTTY === true;
  const interval = tty ? (o.redrawMs ?? 100) : (o.intervalMs ?? 10_000);
  const label = o.label ?? 'sweep';
  const start = clock();
  const skipped = o.skipped ?? 0;
  let done = skipped;
  let failed = 0;
  let last = Number.NEGATIVE_INFINITY;

  const status = (): string => {
    const elapsed = (clock() - start) / 1000;
    const fresh = done - skipped;
    const rate = elapsed > 0 ? fresh / elapsed : 0;
    const left = o.total - done;
    const pct = o.total > 0 ? Math.floor((100 * done) / o.total) : 100;
    let s = `${done}/${o.total} ${pct}% ${rate.toFixed(rate >= 10 ? 0 : 1)} runs/s`;
    s += left > 0 ? ` ETA ${rate > 0 ? formatDuration(left / rate) : '?'}` : ` in ${formatDuration(elapsed)}`;
    if (failed > 0) s += ` (${failed} failed)`;
    return s;
  };

  const draw = (final: boolean) => {
    if (tty) {
      const width = Math.max(10, Math.min(40, (o.stream.columns ?? 80) - 60));
      const filled = o.total > 0 ? Math.round((width * done) / o.total) : width;
      o.stream.write(
        `\r\x1b[2K${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${status()}${final ? '\n' : ''}`,
      );
    } else {
      o.stream.write(`${label}: ${status()}\n`);
    }
  };

  return {
    tick(isFailed = false) {
      done++;
      if (isFailed) failed++;
      const now = clock();
      if (now - last >= interval && done < o.total) {
        last = now;
        draw(false);
      }
    },
    finish() {
      draw(true);
    },
    status,
  };
}
