/** XBZRLE, multifd and block migration of 7.2 (qemu-spec.md §3.6, §3.7, §3.10). */
import { describe, expect, it } from 'vitest';
import { xbzrleEncodedLen } from '../../../models/qemu-7.2/xbzrle.ts';
import { run, scenario } from './helpers.ts';

describe('qemu-7.2 xbzrle', () => {
  it('encodes a page whose word 0 was rewritten in 10 bytes however often it was written', () => {
    expect(xbzrleEncodedLen(0)).toBe(0); // unchanged: nothing sent
    expect(xbzrleEncodedLen(1)).toBe(10); // ULEB zero run 0, ULEB length 8, 8 bytes
    expect(xbzrleEncodedLen(100000)).toBe(10);
  });

  // A small working set rewritten a few times between visits, over a slow link.
  const raw = (capabilities: string[]) => ({
    vm: { memoryMiB: 32 },
    libvirt: { enabled: false },
    workload: { kind: 'uniform', wssMiB: 8, dirtyRateMiBps: 8 },
    migration: { timeoutS: 20, maxBandwidthMiBps: 8, capabilities },
  });
  const plain = run(scenario(raw([]))).result;
  const xb = run(scenario(raw(['xbzrle']))).result;

  it('sends fewer bytes than plain for a small-rewrite workload', () => {
    expect(plain.outcome).toBe('completed');
    expect(xb.outcome).toBe('completed');
    expect(xb.bytes.total).toBeLessThan(plain.bytes.total * 0.9);
    expect(xb.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });

  it('hits the cache only from the second lap, and counts what it saved', () => {
    expect(xb.extra.xbzrleCacheHits as number).toBeGreaterThan(0);
    expect(xb.extra.xbzrlePages as number).toBeGreaterThan(0);
    expect(xb.extra.xbzrleBytesSaved as number).toBeGreaterThan(0);
    // Hits are encoded, skipped (unchanged) or overflowed; nothing else.
    expect(xb.extra.xbzrlePages as number).toBeLessThanOrEqual(xb.extra.xbzrleCacheHits as number);
    // The first lap sends every non-zero page normally: as many as plain's first pass.
    expect(xb.iterations[0]!.pagesSent).toBe(plain.iterations[0]!.pagesSent);
    expect(plain.extra.xbzrleCacheHits).toBe(0);
  });
});

describe('qemu-7.2 multifd', () => {
  const channels = 3;
  const s = scenario({
    vm: { memoryMiB: 32 },
    libvirt: { enabled: false },
    workload: { kind: 'zipf', wssMiB: 8, dirtyRateMiBps: 4 },
    migration: { capabilities: ['multifd'], multifdChannels: channels, maxBandwidthMiBps: 32 },
  });
  const r = run(s).result;

  it('completes with every page delivered', () => {
    expect(r.outcome).toBe('completed');
    expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });

  it('packs normal pages 128 to a packet and ends every iteration with a SYNC packet per channel', () => {
    const packets = r.extra.multifdPackets as number;
    const syncs = r.extra.multifdSyncs as number;
    // Full packets, plus at most one partial packet flushed by each sync.
    expect(packets).toBeGreaterThanOrEqual(Math.ceil(r.pages.normal / 128));
    expect(packets).toBeLessThanOrEqual(Math.ceil(r.pages.normal / 128) + syncs);
    // setup + one per ram_save_iterate + completion.
    expect(syncs).toBe((r.extra.iterateCalls as number) + 2);
    const bytes = r.pages.normal * 4096 + (packets + syncs * channels) * 1344 + channels * 64;
    expect(r.extra.multifdBytes).toBe(bytes - channels * 64);
  });
});

describe('qemu-7.2 block migration', () => {
  const raw = (capabilities: string[]) => ({
    vm: { memoryMiB: 16 },
    libvirt: { enabled: false },
    disk: { sizeMiB: 64, allocatedMiB: 16, migrate: true },
    // 25 disk writes a second: a few chunks are dirtied again after the bulk pass read them.
    workload: { kind: 'uniform', wssMiB: 4, dirtyRateMiBps: 2, diskWriteMiBps: 0.1 },
    migration: { capabilities, maxBandwidthMiBps: 64 },
  });
  const plain = run(scenario(raw([]))).result;
  const zero = run(scenario(raw(['zero-blocks']))).result;

  it('completes with every page and chunk delivered', () => {
    for (const r of [plain, zero]) {
      expect(r.outcome).toBe('completed');
      expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
      // The bulk pass reads every chunk once; chunks dirtied after their read go again.
      expect(r.extra.blockChunksSent).toBe(64 + (r.extra.blockDirtyChunksResent as number));
    }
    expect(plain.extra.blockDirtyChunksResent as number).toBeGreaterThan(0);
  });

  it('sends unallocated chunks as headers only with zero-blocks', () => {
    expect(plain.extra.blockZeroChunks).toBe(0);
    expect(zero.extra.blockZeroChunks).toBe(64 - 16);
    expect(plain.bytes.block - zero.bytes.block).toBeGreaterThan(47 * 1024 * 1024);
  });

  it('sends no RAM page while the bulk pass runs', () => {
    // The bulk pass needs 64 MiB at 64 MiB/s: about a second in which RAM sends only EOS records.
    const during = plain.iterations.filter((it) => it.endMs < 950);
    expect(during.length).toBeGreaterThan(0);
    for (const it of during) expect(it.pagesSent).toBe(0);
    expect(plain.bytes.block).toBeGreaterThan(64 * 1024 * 1024);
  });

  it('starves RAM when the disk is dirtied faster than the budget (block comes first)', () => {
    const s = scenario({ ...raw([]), migration: { maxBandwidthMiBps: 64, timeoutS: 5 } });
    s.workload.diskWriteMiBps = 2; // every allocated chunk is dirty again at each iteration
    const r = run(s).result;
    expect(r.outcome).toBe('timeout');
    expect(r.pages.normal + r.pages.uniform).toBe(0);
    expect(r.extra.blockDirtyChunksResent as number).toBeGreaterThan(100);
  });
});
