/**
 * A guest memory layout: where a real guest's working set sits in guest-physical memory and which of its
 * other pages are zero when the workload starts, as measured by the lab (trace/lab/layout.ts: the guest
 * program reads /proc/self/pagemap, the host dumps RAM with pmemsave).
 *
 * Why it matters: QEMU scans RAM in guest-physical order and syncs the dirty log only when the pages left
 * fall below the threshold, so a dirtied page that the scan has not reached yet costs nothing extra,
 * while one already sent is sent again. Linux hands a process's memory out in scattered blocks (a
 * 128 MiB lab guest gives a 48 MiB buffer as ~150 runs between 34 and 128 MiB), and which pages were
 * zero decides what the first pass sends as ZERO pages. Without a layout the simulator puts the working
 * set at the top of RAM and draws zero pages at random (models/workloads/content.ts).
 */
import { Bitmap } from '../../sim/bitmap.ts';
import { UsageError } from '../../sim/errors.ts';
import { readJsonFile } from '../json-file.ts';

export const LAYOUT_FORMAT = 'migscope-guest-layout/1';

/** Runs of consecutive guest pages: [first page, count]. */
export type PageRuns = [number, number][];

/** A measured guest layout (what a layout file holds). */
export interface GuestLayout {
  format: typeof LAYOUT_FORMAT;
  /** Guest RAM the layout was measured on (the simulator's pages = memoryMiB × 256). */
  memoryMiB: number;
  /** Pages of the working set (the guest program's buffer). */
  wssPages: number;
  /** The guest page of each working-set page, in buffer order (the order the workload indexes them). */
  placement: PageRuns;
  /**
   * Pages that held only zero bytes when the workload started (the working set is never among them); null
   * when not measured (a recorded lab run knows only its placement): zero pages are then drawn at random.
   */
  zero: PageRuns | null;
  /** How and where it was measured. */
  provenance: Record<string, unknown>;
}

/** Runs of consecutive values of `pages`, in the order given. */
export function pageRuns(pages: Iterable<number>): PageRuns {
  const runs: PageRuns = [];
  for (const p of pages) {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === p) last[1]++;
    else runs.push([p, 1]);
  }
  return runs;
}

/** Runs as text, "first+count,…": the guest program's serial line and a lab run's extra.wssPlacement. */
export function formatPageRuns(runs: PageRuns): string {
  return runs.map(([p, c]) => `${p}+${c}`).join(',');
}

/** The runs of a "first+count,…" text (empty text: none); throws naming an entry that is not a run. */
export function parsePageRuns(text: string): PageRuns {
  const t = text.trim();
  if (t === '') return [];
  return t.split(',').map((e) => {
    const r = /^(\d+)\+(\d+)$/.exec(e);
    if (!r || Number(r[2]) < 1) throw new Error(`bad run "${e.slice(0, 40)}"`);
    return [Number(r[1]), Number(r[2])];
  });
}

/** The pages of `runs`, in order. */
export function runPages(runs: PageRuns): Int32Array {
  let n = 0;
  for (const [, c] of runs) n += c;
  const out = new Int32Array(n);
  let i = 0;
  for (const [p, c] of runs) for (let k = 0; k < c; k++) out[i++] = p + k;
  return out;
}

/** The working set's guest pages, in buffer order. */
export function placementPages(l: GuestLayout): Int32Array {
  return runPages(l.placement);
}

/** The zero pages as a bitmap over `pages` guest pages (pages beyond are dropped); null if not measured. */
export function zeroBitmap(l: GuestLayout, pages: number): Bitmap | null {
  if (!l.zero) return null;
  const b = new Bitmap(pages);
  for (const [p, c] of l.zero) {
    const end = Math.min(pages, p + c);
    if (end > p) b.setRange(p, end);
  }
  return b;
}

/** Count the pages of `runs`. */
export function runsLength(runs: PageRuns): number {
  let n = 0;
  for (const [, c] of runs) n += c;
  return n;
}

/**
 * Check a layout against the guest it is used for (`pages` guest pages, `wssPages` working-set pages);
 * `where` names it in the message (a file, a scenario key).
 */
export function checkLayout(l: GuestLayout, pages: number, wssPages: number, where: string): void {
  const fail = (msg: string): never => {
    throw new UsageError(`${where}: ${msg}`);
  };
  if (l.format !== LAYOUT_FORMAT) fail(`format: expected ${LAYOUT_FORMAT} (got ${String(l.format)})`);
  const ok = (runs: unknown) =>
    Array.isArray(runs) &&
    runs.every(
      (r) =>
        Array.isArray(r) &&
        r.length === 2 &&
        Number.isInteger(r[0]) &&
        Number.isInteger(r[1]) &&
        r[0] >= 0 &&
        r[1] >= 1,
    );
  if (!ok(l.placement)) fail('placement: expected a list of [first page, count] runs');
  if (l.zero !== null && !ok(l.zero)) fail('zero: expected a list of [first page, count] runs or null');
  const placed = runsLength(l.placement);
  if (placed !== wssPages)
    fail(
      `measured with a ${placed}-page working set, the scenario has ${wssPages} (probe this scenario's guest)`,
    );
  const seen = new Bitmap(pages);
  for (const [p, c] of l.placement) {
    if (p + c > pages) fail(`placement: page ${p + c - 1} lies beyond the guest's ${pages} pages`);
    for (let k = p; k < p + c; k++) {
      if (seen.test(k)) fail(`placement: page ${k} appears twice`);
      seen.set(k);
    }
  }
}

/** Read a layout file, or the placement a recorded lab run's result.json holds (kept while unchanged). */
export function readGuestLayout(file: string): GuestLayout {
  return readJsonFile(file, 'vm.layout', (raw) =>
    (raw as { format?: unknown })?.format === LAYOUT_FORMAT
      ? (raw as GuestLayout)
      : layoutOfRecordedRun(raw, file),
  );
}

/**
 * The layout a recorded lab run (its result.json) knows: where its working set sat (extra.wssPlacement,
 * "first+count,…"), not which pages were zero.
 */
export function layoutOfRecordedRun(raw: unknown, file: string): GuestLayout {
  const r = raw as { scenario?: { vm?: { memoryMiB?: number } }; extra?: { wssPlacement?: unknown } };
  const placement = r?.extra?.wssPlacement;
  const memoryMiB = r?.scenario?.vm?.memoryMiB;
  if (typeof placement !== 'string' || typeof memoryMiB !== 'number')
    throw new UsageError(
      `${file}: neither a guest layout (migscope lab layout) nor a lab run that recorded where its working set sat (extra.wssPlacement)`,
    );
  let runs: PageRuns;
  try {
    runs = parsePageRuns(placement);
  } catch (err) {
    throw new UsageError(`${file}: extra.wssPlacement: ${(err as Error).message}`);
  }
  return {
    format: LAYOUT_FORMAT,
    memoryMiB,
    wssPages: runsLength(runs),
    placement: runs,
    zero: null,
    provenance: { recordedRun: file },
  };
}

/** A layout file's text: one run list per line, so diffs stay readable. */
export function layoutJson(l: GuestLayout): string {
  const runs = (r: PageRuns | null) => JSON.stringify(r);
  return `{\n "format": ${JSON.stringify(l.format)},\n "memoryMiB": ${l.memoryMiB},\n "wssPages": ${l.wssPages},\n "provenance": ${JSON.stringify(l.provenance)},\n "placement": ${runs(l.placement)},\n "zero": ${runs(l.zero)}\n}\n`;
}
