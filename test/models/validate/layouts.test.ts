import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type GuestLayout, LAYOUT_FORMAT, pageRuns } from '../../../models/guest/layout.ts';
import { loadCalibration } from '../../../models/validate/calibration.ts';
import { DEFAULT_CALIBRATION } from '../../../models/validate/command.ts';
import { collectLayouts, layoutFileName, layoutKey } from '../../../models/validate/layouts.ts';
import { resolveMatrix } from '../../../models/validate/matrix.ts';
import { simulateEntry } from '../../../models/validate/validate.ts';
import { PAGES_PER_MIB } from '../../../models/workloads/page-writes.ts';
import { labScenario } from './helpers.ts';

const matrix = () =>
  resolveMatrix(
    {
      name: 'layouts',
      base: { model: 'qemu-7.2', seed: 42, vm: { memoryMiB: 128 }, libvirt: { enabled: false } },
      scenarios: [
        {
          name: 'a',
          set: { 'workload.kind': 'uniform', 'workload.wssMiB': 16, 'workload.dirtyRateMiBps': 8 },
        },
        // same guest as a (only the writes and the link differ): one probe serves both
        {
          name: 'b',
          set: {
            'workload.kind': 'zipf',
            'workload.wssMiB': 16,
            'workload.dirtyRateMiBps': 4,
            'migration.maxBandwidthMiBps': 0,
          },
        },
        { name: 'c', set: { 'workload.kind': 'idle' } },
      ],
    },
    'layouts.yaml',
  );

/** A stand-in for the lab: the working set at the bottom of RAM from page 1000, no zero pages. */
function stubProber(calls: string[]) {
  return async (s: Parameters<typeof layoutKey>[0]): Promise<GuestLayout> => {
    calls.push(s.name);
    const wss = s.workload.kind === 'idle' ? 0 : s.workload.wssMiB * PAGES_PER_MIB;
    return {
      format: LAYOUT_FORMAT,
      memoryMiB: s.vm.memoryMiB,
      wssPages: wss,
      placement: wss ? pageRuns(Array.from({ length: wss }, (_, i) => 1000 + i)) : [],
      zero: [],
      provenance: { stub: true },
    };
  };
}

describe('guest layouts of a matrix', () => {
  it('keys a guest by RAM, vCPUs, working-set size and disk, not by what it writes or the link', () => {
    const base = labScenario('x');
    expect(
      layoutKey(labScenario('y', { workload: { kind: 'uniform', wssMiB: 32, dirtyRateMiBps: 99 } })),
    ).toBe(layoutKey(base));
    expect(
      layoutKey(labScenario('y', { workload: { kind: 'zipf', wssMiB: 16, dirtyRateMiBps: 8 } })),
    ).not.toBe(layoutKey(base));
    expect(layoutKey(labScenario('y', { disk: { sizeMiB: 64, allocatedMiB: 16 } }))).not.toBe(
      layoutKey(base),
    );
    expect(layoutFileName(base)).toMatch(/^mem128-cpu1-wss32-[0-9a-f]{8}\.json$/);
  });

  it('probes each distinct guest once, then reuses the files; without a prober it only reads them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migscope-layouts-'));
    const calls: string[] = [];
    const m = matrix();
    expect(await collectLayouts(m, { dir, prober: stubProber(calls) })).toBe(2);
    expect(calls).toEqual(['a', 'c']);
    expect(readdirSync(dir).sort()).toHaveLength(2);
    expect(m.entries.map((e) => e.layout)).toEqual([
      m.entries[0]!.layout,
      m.entries[0]!.layout,
      m.entries[2]!.layout,
    ]);
    expect(existsSync(m.entries[0]!.layout!)).toBe(true);

    const again = matrix();
    expect(await collectLayouts(again, { dir, prober: stubProber(calls) })).toBe(0);
    expect(calls).toHaveLength(2);
    expect(again.entries.map((e) => e.layout)).toEqual(m.entries.map((e) => e.layout));

    const none = matrix();
    await collectLayouts(none, { dir: join(dir, 'empty'), prober: null });
    expect(none.entries.map((e) => e.layout ?? null)).toEqual([null, null, null]);
  });

  it('simulates an entry from its layout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'migscope-layouts-'));
    const c = loadCalibration(DEFAULT_CALIBRATION);
    const m = matrix();
    const plain = simulateEntry(m.entries[0]!, c).result;
    await collectLayouts(m, { dir, prober: stubProber([]) });
    const laid = simulateEntry(m.entries[0]!, c);
    expect(laid.scenario.vm.layout).toBe(m.entries[0]!.layout);
    // No zero pages in the stub layout: every page goes as a full page.
    expect(laid.result.pages.uniform).toBe(0);
    expect(plain.pages.uniform).toBeGreaterThan(0);
  });
});
