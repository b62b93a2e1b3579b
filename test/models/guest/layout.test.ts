import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkLayout,
  type GuestLayout,
  LAYOUT_FORMAT,
  layoutJson,
  pageRuns,
  readGuestLayout,
  runPages,
} from '../../../models/guest/layout.ts';
import { resultToJson } from '../../../models/result.ts';
import { resolveScenario, type Scenario } from '../../../models/scenario.ts';
import { simulate } from '../../../models/simulate.ts';
import { ContentModel } from '../../../models/workloads/content.ts';

const dir = mkdtempSync(join(tmpdir(), 'migscope-layout-'));
let files = 0;

function layoutFile(l: Omit<GuestLayout, 'format' | 'provenance'>): string {
  const f = join(dir, `layout-${files++}.json`);
  writeFileSync(f, layoutJson({ format: LAYOUT_FORMAT, provenance: { test: true }, ...l }));
  return f;
}

/** A 32 MiB qemu-7.2 guest writing a 4 MiB working set at 8 MiB/s over a 32 MiB/s link. */
function scn(extra: Record<string, unknown> = {}, vm: Record<string, unknown> = {}): Scenario {
  return resolveScenario({
    model: 'qemu-7.2',
    seed: 3,
    vm: { memoryMiB: 32, uniformPageFraction: 0.4, ...vm },
    workload: { kind: 'uniform', wssMiB: 4, dirtyRateMiBps: 8 },
    migration: { maxBandwidthMiBps: 32 },
    ...extra,
  });
}

const PAGES = 32 * 256;
const WSS = 4 * 256;
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('page runs', () => {
  it('round-trips pages through runs, keeping their order', () => {
    const pages = [5, 6, 7, 100, 3, 4, 9];
    const runs = pageRuns(pages);
    expect(runs).toEqual([
      [5, 3],
      [100, 1],
      [3, 2],
      [9, 1],
    ]);
    expect([...runPages(runs)]).toEqual(pages);
  });

  it('rejects a layout of another working-set size, a page twice, or one beyond the guest', () => {
    const l = (placement: [number, number][]): GuestLayout => ({
      format: LAYOUT_FORMAT,
      memoryMiB: 32,
      wssPages: 8,
      placement,
      zero: [],
      provenance: {},
    });
    expect(() => checkLayout(l([[0, 8]]), PAGES, 16, 'x')).toThrow(/8-page working set, the scenario has 16/);
    expect(() => checkLayout(l([[0, 8]]), PAGES, 8, 'x')).not.toThrow();
    expect(() =>
      checkLayout(
        l([
          [0, 5],
          [4, 3],
        ]),
        PAGES,
        8,
        'x',
      ),
    ).toThrow(/page 4 appears twice/);
    expect(() => checkLayout(l([[PAGES - 2, 8]]), PAGES, 8, 'x')).toThrow(/beyond the guest/);
  });

  it('names a missing layout file', () => {
    expect(() => readGuestLayout(join(dir, 'nope.json'))).toThrow(/vm.layout: no such file/);
  });
});

describe('a simulated guest with a measured layout', () => {
  it('is the default guest when the layout says what the default assumes', () => {
    const s = scn();
    const content = new ContentModel(s.seed, s.vm.uniformPageFraction);
    const zero = range(0, PAGES - WSS).filter((p) => content.initiallyUniform(p));
    const layout = layoutFile({
      memoryMiB: 32,
      wssPages: WSS,
      placement: [[PAGES - WSS, WSS]],
      zero: pageRuns(zero),
    });
    const a = simulate(s, { granularity: 'none' }).result;
    const b = simulate(scn({}, { layout }), { granularity: 'none' }).result;
    expect(resultToJson({ ...b, scenario: a.scenario })).toBe(resultToJson(a));
  });

  it('sends the layout zero pages as ZERO pages', () => {
    const layout = layoutFile({
      memoryMiB: 32,
      wssPages: 0,
      placement: [],
      zero: [
        [0, 1000],
        [5000, 234],
      ],
    });
    const r = simulate(scn({ workload: { kind: 'idle' } }, { layout }), { granularity: 'none' }).result;
    expect(r.pages.uniform).toBe(1234);
    expect(r.pages.normal).toBe(PAGES - 1234);
  });

  it('resends more when the working set sits where the scan passed early (bottom) than at the top', () => {
    // QEMU 7.2 syncs the dirty log only when the pages left fall below the threshold; pages left are the
    // top of RAM, so a working set there is partly sent once, late, instead of twice.
    const at = (from: number) =>
      simulate(
        scn({}, { layout: layoutFile({ memoryMiB: 32, wssPages: WSS, placement: [[from, WSS]], zero: [] }) }),
        { granularity: 'none', trackVersions: true },
      ).result;
    const top = at(PAGES - WSS);
    const bottom = at(0);
    expect(top.delivery?.pagesStale).toBe(0);
    expect(bottom.delivery?.pagesStale).toBe(0);
    expect(bottom.pages.normal).toBeGreaterThan(top.pages.normal + 50);
  });

  it('writes the working set through the placement (the delivery check sees every write)', () => {
    // A scattered placement: every 7th page from page 3, in reverse order.
    const placement = range(0, WSS).map((i) => 3 + 7 * (WSS - 1 - i));
    const layout = layoutFile({ memoryMiB: 32, wssPages: WSS, placement: pageRuns(placement), zero: [] });
    const r = simulate(scn({}, { layout }), { granularity: 'none', trackVersions: true }).result;
    expect(r.outcome).toBe('completed');
    expect(r.delivery?.pagesStale).toBe(0);
    // No zero pages at all in the layout, so none are sent as ZERO pages.
    expect(r.pages.uniform).toBe(0);
  });
});
