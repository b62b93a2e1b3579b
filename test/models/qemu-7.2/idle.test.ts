/**
 * An idle guest: every page goes once, zero pages as 9-byte records and the others as 4104-byte ones
 * (qemu-spec.md §3.6), so the transfer takes that many bytes over the bottleneck, plus setup and switchover.
 */
import { describe, expect, it } from 'vitest';
import { run, scenario, zeroPages } from './helpers.ts';

const LINK = 1000e6 / 8; // bytes/s of the default 1000 Mbit/s link

describe('qemu-7.2 idle guest', () => {
  it('sends each page once: zero pages as 9 bytes, the others as 4104', () => {
    const s = scenario({ vm: { memoryMiB: 64 }, libvirt: { enabled: false } });
    const r = run(s).result;
    const zero = zeroPages(s);
    const pages = 64 * 256;
    expect(r.outcome).toBe('completed');
    expect(r.pages.uniform).toBe(zero);
    expect(r.pages.normal).toBe(pages - zero);
    // Only the first zero record carries the block's idstr ("pc.ram": 7 more bytes); the rest of the RAM
    // section is setup, EOS, section headers and footers: under 200 bytes in all.
    const pageBytes = (pages - zero) * 4104 + zero * 9 + 7;
    expect(r.bytes.ram).toBeGreaterThanOrEqual(pageBytes);
    expect(r.bytes.ram - pageBytes).toBeLessThan(200 + 16 * r.iterations.length * 8);
  });

  it('unlimited bandwidth: done in about bytes / link rate', () => {
    const s = scenario({
      vm: { memoryMiB: 64 },
      migration: { maxBandwidthMiBps: 0 },
      libvirt: { enabled: false },
    });
    const r = run(s).result;
    const zero = zeroPages(s);
    const bytes = (64 * 256 - zero) * 4104 + zero * 9 + s.host.deviceStateKiB * 1024;
    const expectedMs = (bytes / LINK) * 1000;
    // All bytes have reached the destination at total time + the drain of the socket buffer.
    const deliveredMs = r.totalTimeMs + r.downtimeBreakdown.drainMs!;
    expect(deliveredMs).toBeGreaterThan(expectedMs);
    expect(deliveredMs).toBeLessThan(expectedMs * 1.01 + 1);
    // Nothing was dirtied, so the only syncs are setup, the one that found pending < threshold, and the last.
    expect(r.iterations.length).toBe(3);
    expect(r.delivery).toEqual({ checked: true, pagesStale: 0, chunksStale: 0 });
  });

  it('rate limited: the bulk goes at max-bandwidth, the last threshold-worth unthrottled at link speed', () => {
    const mibps = 8;
    const s = scenario({
      vm: { memoryMiB: 64 },
      migration: { maxBandwidthMiBps: mibps },
      libvirt: { enabled: false },
    });
    const r = run(s).result;
    const zero = zeroPages(s);
    const bytes = (64 * 256 - zero) * 4104 + zero * 9;
    const bw = mibps * 1024 * 1024;
    // Iteration stops once pending < bandwidth × 300 ms; that part goes with the VM stopped, at link speed.
    const threshold = bw * 0.3;
    const expectedMs = ((bytes - threshold) / bw + threshold / LINK) * 1000;
    expect(r.totalTimeMs).toBeGreaterThan(expectedMs * 0.95);
    expect(r.totalTimeMs).toBeLessThan(expectedMs * 1.05);
    // Every window but the last spends its budget and sleeps to its end.
    expect(r.extra.rateLimitSleeps).toBeGreaterThan(bytes / (bw / 10) - 3);
    // The window bandwidth the threshold uses is max-bandwidth (the budget plus at most one record).
    const est = r.iterations[1]!.bandwidthEstimate!;
    expect(est).toBeGreaterThan(bw * 0.99);
    expect(est).toBeLessThan(bw * 1.02);
  });

  it('under libvirt 9.0 the bandwidth is unlimited and the downtime includes the pre-switchover round trip', () => {
    const s = scenario({ vm: { memoryMiB: 64 } });
    expect(s.migration.maxBandwidthMiBps).toBe(0);
    const r = run(s).result;
    expect(r.outcome).toBe('completed');
    expect(r.extra.preSwitchoverWaitMs).toBeCloseTo(s.host.monitorRttUs / 1000, 6);
    expect(r.downtimeMs!).toBeGreaterThan(r.extra.qemuDowntimeMs as number);
    const b = r.downtimeBreakdown;
    expect(b.finalPassMs! + b.drainMs! + b.loadMs! + b.managementMs!).toBeCloseTo(r.downtimeMs!, 6);
  });
});
