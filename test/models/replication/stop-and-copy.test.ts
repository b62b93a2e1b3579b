/**
 * One epoch longer than the run: replication reduces to one migration whose stop-and-copy carries the set
 * of pages dirtied while the guest ran. Bytes and pause are computed by hand from qemu-spec.md §3.6/§3.9
 * and §6: 8 + 4096 bytes per dirty page, the checkpoint framing, the device state, the wire time at the
 * link rate (rate limit off) and one round trip for the ack.
 */
import { describe, expect, it } from 'vitest';
import { RAM_SAVE_NORMAL_PAGE_BYTES as NORMAL_0123 } from '../../../models/qemu-0.12.3/constants.ts';
import {
  NORMAL_PAGE_BYTES as NORMAL_72,
  ZERO_PAGE_BYTES as ZERO_72,
} from '../../../models/qemu-7.2/constants.ts';
import { NORMAL_PAGE_BYTES, ZERO_PAGE_BYTES } from '../../../models/replication/constants.ts';
import { FREE_HOST, run, scenario } from './helpers.ts';

// 1000 Mbit/s = 125e6 B/s: 8 ns per byte. RTT 0.2 ms.
const NS_PER_BYTE = 8;
const RTT_NS = 200_000;
// COLO CHECKPOINT_REQUEST + VMSTATE_SEND + be64 size (16), SECTION_PART (5), EOS (8), footer (5);
// device state: SECTION_FULL "devices" (1 + 4 + 1 + 7 + 4 + 4 = 21), 256 KiB, footer (5), EOF (1).
const FIXED_BYTES = 16 + 5 + 8 + 5 + 21 + 256 * 1024 + 5 + 1;

describe('one epoch longer than the run', () => {
  const s = scenario({
    host: FREE_HOST,
    network: { bandwidthMbps: 1000, rttMs: 0.2 },
    replication: { epochMs: 10_000, durationS: 0.5 },
  });
  let atCommit0: Uint32Array | null = null;
  let dirtied = -1;
  const result = run(s, (cp, phase, ctx) => {
    const v = ctx.mem.version!;
    if (cp.index === 0 && phase === 'committed') atCommit0 = v.slice();
    if (cp.index === 1 && phase === 'sent') {
      // The dirtied set, counted from page versions (not from the dirty log the model uses).
      dirtied = 0;
      for (let p = 0; p < v.length; p++) if (v[p] !== atCommit0![p]) dirtied++;
    }
  });
  const it1 = result.iterations[0]!;

  it('is a single checkpoint after 500 ms of guest run time', () => {
    expect(result.outcome).toBe('completed');
    expect(result.iterations).toHaveLength(1);
    expect(result.replication!.epochs).toBe(1);
    expect(it1.startMs - result.replication!.startMs).toBeCloseTo(500, 9);
  });

  it('sends exactly the dirtied set, 4104 bytes a page, plus framing and device state', () => {
    // 4 MiB/s over 8 MiB for 0.5 s: 512 uniform writes over 2048 pages, 2048 (1 - e^-0.25) ≈ 453 distinct.
    expect(dirtied).toBeGreaterThan(453 * 0.9);
    expect(dirtied).toBeLessThan(453 * 1.1);
    expect(it1.pagesSent).toBe(dirtied);
    expect(it1.dirtyPagesAtSync).toBe(dirtied);
    expect(it1.bytes).toBe(dirtied * 4104 + FIXED_BYTES);
  });

  it('pauses for the wire time of those bytes plus one round trip', () => {
    const pauseNs = it1.bytes * NS_PER_BYTE + RTT_NS;
    expect(it1.endMs - it1.startMs).toBeCloseTo(pauseNs / 1e6, 6);
    expect(result.replication!.pauseMs.max).toBeCloseTo(pauseNs / 1e6, 6);
  });

  it('leaves the standby with every page in its last version', () => {
    expect(result.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });

  it('does not change as the epoch grows further', () => {
    const longer = run(scenario({ ...s, replication: { ...s.replication, epochMs: 1e7 } }));
    expect(longer.iterations).toEqual(result.iterations);
    expect(longer.bytes).toEqual(result.bytes);
  });

  it('uses the wire cost per page of the migration models', () => {
    expect(NORMAL_PAGE_BYTES).toBe(NORMAL_72);
    expect(NORMAL_PAGE_BYTES).toBe(NORMAL_0123);
    expect(ZERO_PAGE_BYTES).toBe(ZERO_72);
  });
});
