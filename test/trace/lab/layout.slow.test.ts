/**
 * The guest layout probe against a real QEMU 7.2 guest (trace/lab/layout.ts). Slow: each probe boots a
 * TCG guest (about 8 s). In CI (CI=true) a missing lab fails the suite; on a machine without QEMU it is
 * skipped. Install with: bash test/setup/install-qemu.sh
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkLayout,
  type GuestLayout,
  LAYOUT_FORMAT,
  runPages,
  runsLength,
} from '../../../models/guest/layout.ts';
import { loadScenario } from '../../../models/scenario.ts';
import { labAvailable, REPO_ROOT } from '../../../trace/lab/guest.ts';
import { probeGuestLayout } from '../../../trace/lab/layout.ts';
import { livePids } from '../../../trace/lab/qemu-process.ts';
import { migscope } from '../../helpers/cli.ts';

const SCENARIO = join(REPO_ROOT, 'test/fixtures/lab/layout-uniform16.yaml');
const CI = process.env.CI === 'true';
const run = CI || labAvailable() ? describe : describe.skip;

const layoutDirs = () =>
  readdirSync(tmpdir())
    .filter((d) => d.startsWith('migscope-lab-layout-'))
    .sort();

run('guest layout probe (QEMU 7.2, TCG)', () => {
  let out: string;
  let before: string[];
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'migscope-layout-probe-test-'));
    before = layoutDirs();
  });
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
  });

  let first: GuestLayout;

  it('finds a 128 MiB guest working set among its non-zero pages', async () => {
    const scn = loadScenario(SCENARIO);
    const l = await probeGuestLayout(scn);
    first = l;
    const pages = 32768;
    expect(l.format).toBe(LAYOUT_FORMAT);
    expect(l.memoryMiB).toBe(128);
    expect(l.wssPages).toBe(4096);
    expect(runsLength(l.placement)).toBe(4096);
    const placed = new Set<number>();
    for (const [p, c] of l.placement) for (let k = p; k < p + c; k++) placed.add(k);
    expect(placed.size).toBe(4096);
    expect(Math.max(...placed)).toBeLessThan(pages);
    // The guest touched every page of its buffer: none of them is zero.
    for (const [p, c] of l.zero!)
      for (let k = p; k < p + c; k++) expect(placed.has(k), `page ${k}`).toBe(false);
    const zero = runsLength(l.zero!);
    expect(zero).toBeGreaterThan(0.1 * pages);
    expect(zero).toBeLessThan(0.7 * pages);
    expect(l.zero!.every(([p, c]) => p + c <= pages)).toBe(true);
    expect(() => checkLayout(l, pages, 4096, 'probe')).not.toThrow();
    expect(l.provenance).toMatchObject({
      qemu: expect.stringMatching(/^7\.2\./),
      memoryArg: '131080K',
      command: 'migscope lab layout',
    });
    // The probed guest writes nothing.
    expect(l.provenance.cmdline).toMatch(/lab_rate=0 /);
    expect(livePids()).toEqual([]);
    expect(layoutDirs()).toEqual(before);
  }, 120_000);

  it('writes a layout file from the CLI', async () => {
    const file = join(out, 'layout.json');
    const r = await migscope('lab', 'layout', SCENARIO, '--set', 'seed=9', '--output', file);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4096 working-set pages in \d+ runs, \d+ of 32768 pages zero/);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const l = JSON.parse(readFileSync(file, 'utf8')) as GuestLayout;
    expect(l.format).toBe(LAYOUT_FORMAT);
    expect(l.wssPages).toBe(4096);
    expect(l.provenance.cmdline).toMatch(/lab_seed=9 /);
    expect(() => checkLayout(l, 32768, 4096, file)).not.toThrow();
    expect(layoutDirs()).toEqual(before);
    // Another boot of the same guest (the seed changes only what it writes later) puts the working set on
    // nearly the same pages in nearly the same order (a page or two may shift it by a place): the kernel
    // boots with nokaslr, so one probe stands for every run. With KASLR over half the pages moved.
    const a = runPages(first.placement);
    const b = runPages(l.placement);
    const inB = new Set(b);
    let same = 0;
    let inOrder = 0;
    for (let i = 0; i < a.length; i++) {
      if (inB.has(a[i]!)) same++;
      for (let d = -2; d <= 2; d++) if (b[i + d] === a[i]) inOrder++;
    }
    expect(same / a.length).toBeGreaterThan(0.98);
    expect(inOrder / a.length).toBeGreaterThan(0.95);
    expect(Math.abs(runsLength(l.zero!) - runsLength(first.zero!))).toBeLessThan(0.02 * 32768);
  }, 120_000);
});
