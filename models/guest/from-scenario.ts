/** Build the guest (RAM, disk) and the destination's copy that a scenario describes. */
import type { Scenario } from '../scenario.ts';
import { ContentModel } from '../workloads/content.ts';
import { PAGES_PER_MIB, pageWriteSequence } from '../workloads/page-writes.ts';
import { CHUNK_SIZE, GuestDisk } from './disk.ts';
import { checkLayout, type GuestLayout, placementPages, readGuestLayout, zeroBitmap } from './layout.ts';
import { GuestMemory } from './memory.ts';

/** The version the destination holds for what it never received. */
export const NEVER_RECEIVED = 0xffffffff;

/** A layout checked and unpacked for a guest size, kept with the (cached) layout: a sweep reuses it. */
const unpacked = new WeakMap<GuestLayout, Map<string, { placement: Int32Array; zero: Uint32Array | null }>>();
function layoutFor(layout: GuestLayout, pages: number, wssPages: number, where: string) {
  let bySize = unpacked.get(layout);
  if (!bySize) {
    bySize = new Map();
    unpacked.set(layout, bySize);
  }
  const key = `${pages}/${wssPages}`;
  let u = bySize.get(key);
  if (!u) {
    checkLayout(layout, pages, wssPages, where);
    // Read-only from here on: the write sequence and the content model only read them.
    u = { placement: placementPages(layout), zero: zeroBitmap(layout, pages)?.words ?? null };
    bySize.set(key, u);
  }
  return u;
}

/**
 * Guest RAM for a scenario; the working set counts as written before the migration starts. With
 * vm.layout the working set and the zero pages are where the measured guest had them.
 */
export function guestMemoryFromScenario(s: Scenario, trackVersions: boolean): GuestMemory {
  const pages = Math.round(s.vm.memoryMiB * PAGES_PER_MIB);
  const w = s.workload;
  const wssPages = w.kind === 'idle' ? 0 : Math.min(pages, Math.round(w.wssMiB * PAGES_PER_MIB));
  const { placement, zero } = s.vm.layout
    ? layoutFor(readGuestLayout(s.vm.layout), pages, wssPages, `${s.name}: vm.layout ${s.vm.layout}`)
    : { placement: null, zero: null };
  const writes = pageWriteSequence({
    kind: w.kind,
    pages,
    wssPages,
    zipfS: w.zipfS,
    seed: s.seed,
    placement,
  });
  return new GuestMemory({
    pages,
    writes,
    writesPerS: w.dirtyRateMiBps * PAGES_PER_MIB,
    content: new ContentModel(s.seed, s.vm.uniformPageFraction, zero),
    trackVersions,
    writtenBefore: !writes ? undefined : (placement ?? [writes.base, writes.base + wssPages]),
  });
}

/** The guest disk, or null when the scenario has none. */
export function guestDiskFromScenario(s: Scenario): GuestDisk | null {
  if (!s.disk) return null;
  return new GuestDisk(s.disk.sizeMiB, s.disk.allocatedMiB, s.workload.diskWriteMiBps, s.seed);
}

/** Count pages (and chunks) whose destination version differs from the source's. */
export function staleCount(src: Uint32Array, dst: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < src.length; i++) if (src[i] !== dst[i]) n++;
  return n;
}

/**
 * result.delivery for a completed run with version tracking: pages (and chunks) whose destination copy is
 * not the source's last version; null when nothing was tracked.
 */
export function deliveryCheck(
  src: { pages: Uint32Array | null; chunks: Uint32Array | null },
  dst: { pageVersion: Uint32Array | null; chunkVersion: Uint32Array | null },
): { checked: true; pagesStale: number; chunksStale: number } | null {
  if (!src.pages || !dst.pageVersion) return null;
  return {
    checked: true,
    pagesStale: staleCount(src.pages, dst.pageVersion),
    chunksStale: src.chunks && dst.chunkVersion ? staleCount(src.chunks, dst.chunkVersion) : 0,
  };
}

/** A destination copy that has received nothing yet. */
export function emptyCopy(n: number): Uint32Array {
  return new Uint32Array(n).fill(NEVER_RECEIVED);
}

export { CHUNK_SIZE };
