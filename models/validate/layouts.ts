/**
 * The measured guest layouts a matrix needs (models/guest/layout.ts): one per distinct guest (RAM, vCPUs,
 * working-set size, disk), probed in the lab once (trace/lab/layout.ts, one boot, ~5 s) and kept as
 * files, so the simulator starts from the same placement of the working set and the same zero pages as
 * the real guest. Probing is separate from the real migrations: the simulation never sees their outcome.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash } from '../../sim/sweep/hash.ts';
import { type GuestLayout, layoutJson } from '../guest/layout.ts';
import type { Scenario } from '../scenario.ts';
import { PAGES_PER_MIB } from '../workloads/page-writes.ts';
import type { Matrix, MatrixEntry } from './matrix.ts';

/** Probes one scenario's guest in the lab (trace/lab/layout.ts's probeGuestLayout in production). */
export type LayoutProber = (s: Scenario) => Promise<GuestLayout>;

/** What decides a guest's layout: RAM, vCPUs, the working set's size and whether a disk is attached. */
export function layoutKey(s: Scenario): string {
  const pages = Math.round(s.vm.memoryMiB * PAGES_PER_MIB);
  const wssPages =
    s.workload.kind === 'idle' ? 0 : Math.min(pages, Math.round(s.workload.wssMiB * PAGES_PER_MIB));
  return contentHash({
    memoryMiB: s.vm.memoryMiB,
    vcpus: s.vm.vcpus,
    wssPages,
    disk: s.disk ? { sizeMiB: s.disk.sizeMiB, allocatedMiB: s.disk.allocatedMiB } : null,
  });
}

/** A readable file name for a guest's layout (the key's prefix keeps distinct guests apart). */
export function layoutFileName(s: Scenario): string {
  const wss = s.workload.kind === 'idle' ? 0 : s.workload.wssMiB;
  const disk = s.disk ? `-disk${s.disk.sizeMiB}` : '';
  return `mem${s.vm.memoryMiB}-cpu${s.vm.vcpus}-wss${wss}${disk}-${layoutKey(s).slice(0, 8)}.json`;
}

/** An entry's scenario with its measured guest layout, when one was collected. */
export function withLayout(entry: MatrixEntry): Scenario {
  if (!entry.layout) return entry.scenario;
  return { ...entry.scenario, vm: { ...entry.scenario.vm, layout: entry.layout } };
}

/** Progress of collecting layouts. */
export interface LayoutProgress {
  entry: MatrixEntry;
  file: string;
  probed: boolean;
}

/** Options of `collectLayouts`. */
export interface LayoutOptions {
  dir: string;
  /** Probes what `dir` lacks; null = use only what is there. */
  prober: LayoutProber | null;
  onProgress?: (p: LayoutProgress) => void;
  signal?: AbortSignal;
}

/**
 * Set `entry.layout` for every entry whose guest has (or, with a prober, gets) a layout file in `dir`;
 * entries without one keep the simulator's parametric guest. Returns how many guests were probed.
 */
export async function collectLayouts(matrix: Matrix, opts: LayoutOptions): Promise<number> {
  let probed = 0;
  for (const entry of matrix.entries) {
    if (opts.signal?.aborted) break;
    const file = join(opts.dir, layoutFileName(entry.scenario));
    let fresh = false;
    if (!existsSync(file) && opts.prober) {
      const layout = await opts.prober(entry.scenario);
      mkdirSync(opts.dir, { recursive: true });
      writeFileSync(`${file}.tmp`, layoutJson(layout));
      renameSync(`${file}.tmp`, file);
      probed++;
      fresh = true;
    }
    if (existsSync(file)) {
      entry.layout = file;
      opts.onProgress?.({ entry, file, probed: fresh });
    }
  }
  return probed;
}
