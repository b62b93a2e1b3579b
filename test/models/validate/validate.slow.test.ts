/**
 * `migscope validate` on a tiny matrix for real: two scenarios × two repeats of the QEMU 7.2 lab (about
 * 30 s), fitted on the idle one, then again to check that the cached runs are reused. Slow: needs the lab
 * (bash test/setup/install-qemu.sh). With CI=true a missing lab fails this suite; elsewhere it is skipped.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { labAvailable } from '../../../trace/lab/guest.ts';
import { livePids } from '../../../trace/lab/qemu-process.ts';
import { mainCaptured } from '../../helpers/cli.ts';

const CI = process.env.CI === 'true';
const run = CI || labAvailable() ? describe : describe.skip;
const dir = mkdtempSync(join(tmpdir(), 'migscope-validate-slow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = mainCaptured;

run('migscope validate run (real QEMU 7.2 lab)', () => {
  const matrix = join(dir, 'tiny.yaml');
  const cache = join(dir, 'cache');
  const out = join(dir, 'out');
  writeFileSync(
    matrix,
    `name: tiny
repeats: 2
base: { model: qemu-7.2, seed: 42, vm: { memoryMiB: 128 }, libvirt: { enabled: false }, migration: { timeoutS: 30 } }
scenarios:
  - { name: idle-bw64, subset: calibration, set: { workload.kind: idle, migration.maxBandwidthMiBps: 64 } }
  - name: zipf-16-8-unl
    set: { workload.kind: zipf, workload.wssMiB: 16, workload.dirtyRateMiBps: 8, migration.maxBandwidthMiBps: 0 }
`,
  );

  it('runs 2 × 2 real migrations, fits, simulates and writes the tables', { timeout: 240_000 }, async () => {
    const r = await cli([
      'validate',
      'run',
      matrix,
      '--real-cache',
      cache,
      '--out',
      out,
      '--calibration',
      'fit',
    ]);
    expect(r.err, r.err).toMatch(/real 4\/4 zipf-16-8-unl r1: ran in/);
    expect(r.code, r.err).toBe(0);
    expect(livePids()).toEqual([]);
    const v = JSON.parse(readFileSync(join(out, 'validation.json'), 'utf8'));
    for (const s of v.scenarios) {
      expect(s.real.outcomes).toEqual(['completed', 'completed']);
      expect(s.sim.outcome).toBe('completed');
      // loose: a sane model of the lab, not the accuracy target (that is the full matrix's job)
      expect(s.errors.sim.bytes.p90).toBeLessThan(25);
      expect(s.real.median.iterations).toBeGreaterThanOrEqual(3);
    }
    const c = JSON.parse(readFileSync(join(out, 'calibration.json'), 'utf8'));
    expect(c.provenance.qemuVersion).toMatch(/^7\.2/);
    expect(c.guest.idleNonzeroPages).toBeGreaterThan(5000);
    expect(c.guest.idleNonzeroPages).toBeLessThan(32768);
    expect(existsSync(join(out, 'runs/zipf-16-8-unl/compare/compare.html'))).toBe(true);
    // the real run's trace is cached beside it and lands in the comparison
    const realDir = readdirSync(join(out, 'runs/zipf-16-8-unl')).find((d) => d.startsWith('real-r'))!;
    expect(readFileSync(join(out, 'runs/zipf-16-8-unl', realDir, 'trace.otlp.jsonl'), 'utf8')).toMatch(
      /qemu\.migration/,
    );
    const d = readFileSync(join(out, 'dataset.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(d[1].real[0].iterations.length).toBe(d[1].real[0].syncs);
  });

  it('a second run reuses the cached real runs', { timeout: 60_000 }, async () => {
    const r = await cli([
      'validate',
      'run',
      matrix,
      '--real-cache',
      cache,
      '--out',
      join(dir, 'out2'),
      '--calibration',
      'fit',
      '--no-compare',
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/ran in/);
    expect(readFileSync(join(dir, 'out2/errors.csv'), 'utf8')).toBe(
      readFileSync(join(out, 'errors.csv'), 'utf8'),
    );
  });
});
