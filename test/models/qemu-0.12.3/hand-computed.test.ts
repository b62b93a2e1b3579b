/** Cases computed by hand from qemu-spec.md §2 (0.12.3). */
import { describe, expect, it } from 'vitest';
import { BLOCK_RECORD_BYTES, MAX_THROTTLE } from '../../../models/qemu-0.12.3/constants.ts';
import { run, scenario } from './helpers.ts';

const direct = { libvirt: { enabled: false } };

describe('idle VM whose pages are all uniform', () => {
  it('sends every page as 9 bytes plus the section headers, in one tick, with exact timing', () => {
    const s = scenario({
      ...direct,
      vm: { memoryMiB: 64, uniformPageFraction: 1 },
      workload: { kind: 'idle' },
    });
    const { result: r } = run(s);
    const pages = 64 * 256;
    expect(r.outcome).toBe('completed');
    expect(r.pages).toEqual({ normal: 0, uniform: pages });
    // ram: SECTION_START "ram" (17) + MEM_SIZE (8) + pages × 9 + EOS (8); stage 2: PART (5) + EOS (8);
    // stage 3: END (5) + EOS (8).
    expect(r.bytes.ram).toBe(17 + 8 + pages * 9 + 8 + 5 + 8 + 5 + 8);
    // block (no -b): START "block" (19) + EOS, then PART + EOS and END + EOS.
    expect(r.bytes.block).toBe(19 + 8 + 5 + 8 + 5 + 8);
    // stream header (8) + SECTION_FULL "devices" (21) + 256 KiB + EOF (1).
    expect(r.bytes.device).toBe(8 + 21 + 256 * 1024 + 1);
    expect(r.bytes.total).toBe(r.bytes.ram + r.bytes.block + r.bytes.device!);
    // migrate at 25 µs (half the monitor RTT); connect one RTT (0.2 ms) later; stage 1: sync 125 µs
    // (2 ms/GiB × 64 MiB) + 16384 × 900 ns; stage 2: sync, converged (nothing left); stage 3: sync,
    // device save 2 ms; the socket takes everything at once.
    const expectNs = 200_000 + 125_000 + pages * 900 + 125_000 + 125_000 + 2_000_000;
    expect(r.totalTimeMs).toBeCloseTo(expectNs / 1e6, 9);
    expect(r.iterations.map((i) => i.pagesSent)).toEqual([pages, 0, 0]);
    // Downtime: stage 3 + device save, then the last bytes drain at 125 MB/s, 0.1 ms latency, 5 ms load.
    expect(r.downtimeMs!).toBeGreaterThan(0.125 + 2 + 0.1 + 5);
    expect(r.downtimeMs!).toBeLessThan(0.125 + 2 + 0.1 + 5 + (300 * 1024 * 8) / 1e6 + 0.01);
    expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });

  it('a RAM larger than one tick budget takes one more tick per xfer_limit of 9-byte records', () => {
    const s = scenario({
      ...direct,
      vm: { memoryMiB: 1024, uniformPageFraction: 1 },
      workload: { kind: 'idle' },
    });
    const { result: r } = run(s);
    const xferLimit = Math.floor(MAX_THROTTLE / 10);
    // Each rate-limited pass stops at the first 32 KiB flush that pushes bytes_xfer past xfer_limit.
    const perTick = Math.ceil((xferLimit + 1) / 32768) * 32768;
    const sending = r.iterations.filter((i) => i.pagesSent > 0);
    for (const it of sending.slice(0, -1)) expect(Math.abs(it.pagesSent * 9 - perTick)).toBeLessThan(32768);
    // 262144 × 9 B = 2.36 MB fits in one budget: all of RAM goes in stage 1.
    expect(sending[0]!.pagesSent).toBe(262144);
    // With a cheap page copy the budget, not the CPU, paces the passes.
    const big = scenario({
      ...direct,
      vm: { memoryMiB: 4096, uniformPageFraction: 1 },
      workload: { kind: 'idle' },
      host: { pageCopyNs: 10 },
    });
    const rb = run(big).result;
    const ticks = Math.ceil((4096 * 256 * 9) / perTick);
    // Stage 1 at connect, then one pass per 100 ms tick.
    expect(rb.totalTimeMs).toBeGreaterThan((ticks - 1) * 100 - 100);
    expect(rb.totalTimeMs).toBeLessThan(ticks * 100 + 50);
  });
});

describe('convergence', () => {
  it('a dirty rate above the bandwidth never converges and ends in timeout', () => {
    const s = scenario({
      ...direct,
      vm: { memoryMiB: 1024 },
      workload: { kind: 'uniform', wssMiB: 512, dirtyRateMiBps: 256 },
      migration: { timeoutS: 20 },
    });
    const { result: r } = run(s);
    expect(r.outcome).toBe('timeout');
    expect(r.converged).toBe(false);
    expect(r.downtimeMs).toBeNull();
    expect(r.totalTimeMs).toBeCloseTo(20_000, -1);
    expect(r.message).toMatch(/did not converge within 20 s/);
    // Remaining dirty pages never fall below what 30 ms at the loop-time bandwidth allows.
    const threshold = (30e6 * (4096 / 900)) / 4096;
    expect(Math.min(...r.iterations.slice(-50).map((i) => i.remainingPages))).toBeGreaterThan(threshold);
  });

  it('the loop-time bandwidth estimate converges far earlier than the tick budget would', () => {
    // 8 MiB working set dirtied at 8 MiB/s: about 2048 pages stay dirty.
    const s = scenario({
      ...direct,
      vm: { memoryMiB: 256 },
      workload: { kind: 'uniform', wssMiB: 8, dirtyRateMiBps: 8 },
    });
    const { result: r } = run(s);
    expect(r.outcome).toBe('completed');
    const last2 = r.iterations.at(-2)!; // the stage-2 pass that declared convergence
    const loopBw = (4096 / 900) * 1e9; // bytes/s: 4096 B counted per page, 900 ns per page
    expect(last2.bandwidthEstimate!).toBeCloseTo(loopBw, -3);
    const tickBudgetPages = (0.03 * MAX_THROTTLE) / 4096; // what 30 ms at 32 MiB/s would allow: 245 pages
    expect(last2.remainingPages).toBeGreaterThan(tickBudgetPages);
    expect((last2.remainingPages * 4096) / loopBw).toBeLessThanOrEqual(0.03);
    // ...so the final pass sends more than the 30 ms target would at the throttled rate.
    expect(r.downtimeMs!).toBeGreaterThan(30);
  });
});

describe('block migration (migrate -b)', () => {
  it('sends the bulk first, RAM after, and every chunk dirtied after the bulk at stage 3', () => {
    const s = scenario({
      ...direct,
      vm: { memoryMiB: 64 },
      disk: { sizeMiB: 64, allocatedMiB: 64, migrate: true },
      workload: { kind: 'uniform', wssMiB: 8, dirtyRateMiBps: 1, diskWriteMiBps: 2 },
    });
    const { result: r } = run(s);
    expect(r.outcome).toBe('completed');
    const dirtyAtStage3 = r.extra.blockDirtyChunksAtStage3 as number;
    expect(dirtyAtStage3).toBeGreaterThan(0);
    expect(r.extra.blockChunksSent).toBe(64 + dirtyAtStage3);
    expect(r.bytes.block).toBeGreaterThanOrEqual((64 + dirtyAtStage3) * BLOCK_RECORD_BYTES);
    // RAM is not iterated while the bulk pass runs. flush_blks sends whole 1 MiB chunks while bytes_xfer
    // <= xfer_limit (3,355,443 B), so 4 chunks go per tick: 64 chunks take 16 ticks.
    const ramPasses = r.iterations.filter((i) => i.pagesSent > 0);
    expect(ramPasses[1]!.startMs).toBeGreaterThan(1500);
    expect(ramPasses[1]!.startMs).toBeLessThan(1800);
    // The dirty chunks go out with the VM stopped: the final pass carries them.
    expect(r.downtimeBreakdown.finalPassMs!).toBeGreaterThan((dirtyAtStage3 * 1e3) / 500 - 1);
    expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });
});

describe('a slow link', () => {
  it('makes put_buffer hit EAGAIN, freezes the file and skips ticks; throughput falls to the link', () => {
    const s = scenario({
      ...direct,
      vm: { memoryMiB: 512, uniformPageFraction: 0 },
      network: { bandwidthMbps: 100, sendBufferKiB: 256 },
    });
    const { result: r } = run(s);
    expect(r.outcome).toBe('completed');
    expect(r.extra.freezes as number).toBeGreaterThan(0);
    expect(r.extra.ticksSkippedFrozen as number).toBeGreaterThan(0);
    const linkSeconds = (r.bytes.total * 8) / 100e6;
    expect(r.totalTimeMs / 1000).toBeGreaterThan(linkSeconds * 0.9);
    expect(r.totalTimeMs / 1000).toBeLessThan(linkSeconds * 1.2);
  });
});
