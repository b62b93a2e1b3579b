/**
 * The initial full synchronisation follows 7.2's convergence rule (qemu-spec.md §3.4, §3.6): send while
 * more pages are dirty than fit in downtime-limit at the rate, then sync and stop-and-copy the rest, which
 * is checkpoint 0.
 */
import { describe, expect, it } from 'vitest';
import { ContentModel } from '../../../models/workloads/content.ts';
import { checkpoints, FREE_HOST, scenario } from './helpers.ts';

const FIXED_BYTES = 16 + 5 + 8 + 5 + 21 + 256 * 1024 + 5 + 1;

describe('the initial synchronisation', () => {
  it('of a guest smaller than the threshold is one stop-and-copy of all its pages', () => {
    // 32 MiB < 1 Gbit/s × 300 ms = 37.5 MB: nothing is sent live.
    const s = scenario({ host: FREE_HOST, workload: { kind: 'idle', dirtyRateMiBps: 0 } });
    const { result, cps } = checkpoints(s);
    const pages = 32 * 256;
    const content = new ContentModel(s.seed, s.vm.uniformPageFraction);
    let zero = 0;
    for (let p = 0; p < pages; p++) if (content.initiallyUniform(p)) zero++;
    const cp0 = cps[0]!;
    expect(cp0.pagesSent).toBe(pages);
    expect(cp0.bytes).toBe((pages - zero) * 4104 + zero * 9 + FIXED_BYTES);
    // Still on the wire when the guest stops: the stream header (magic, version, ram SECTION_START with
    // MEM_SIZE, footer: 38 B) and the empty live round's framing (SECTION_PART, EOS, footer: 18 B).
    const pauseNs = (56 + cp0.bytes) * 8 + 200_000;
    expect(cp0.ackNs - cp0.stopNs).toBe(pauseNs);
    expect(result.replication!.initialSync.downtimeMs).toBe(pauseNs / 1e6);
    // An idle guest dirties nothing: every epoch carries only the device state.
    for (const cp of cps.slice(1)) expect(cp.bytes).toBe(FIXED_BYTES);
  });

  it('of a larger guest goes live until the remainder fits the downtime limit at the rate', () => {
    // 16 MiB/s × 100 ms = 1,677,722 B → fewer than 410 pages (of 4096 B) may be left for the stop-and-copy.
    const s = scenario({
      host: FREE_HOST,
      vm: { memoryMiB: 64 },
      workload: { kind: 'zipf', wssMiB: 16, dirtyRateMiBps: 4 },
      migration: { maxBandwidthMiBps: 16, downtimeLimitMs: 100 },
      replication: { durationS: 0.5 },
    });
    const { result, cps } = checkpoints(s);
    const sync = result.replication!.initialSync;
    expect(sync.converged).toBe(true);
    expect(cps[0]!.pagesSent).toBeLessThan(410);
    expect(cps[0]!.pagesSent).toBeGreaterThan(0);
    // The live part ran at the 16 MiB/s cap, so it took at least its bytes at that rate.
    const liveBytes = sync.bytes - cps[0]!.bytes;
    expect(result.replication!.startMs).toBeGreaterThan((liveBytes / (16 * 1024 * 1024)) * 1000);
    expect(result.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });
});
