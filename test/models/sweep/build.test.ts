import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clearBuildCache, simulatorBuild } from '../../../models/sweep/build.ts';
import { loadSweepSpec } from '../../../models/sweep/spec.ts';
import { collectSweep, runSweep, storeFile } from '../../../models/sweep/sweep.ts';
import { readStore } from '../../../sim/sweep/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'migscope-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('simulatorBuild', () => {
  it('fingerprints sim/ and models/ sources, but not the sweep machinery or commands', () => {
    const root = join(dir, 'tree');
    for (const d of ['sim/sweep', 'models/qemu', 'models/sweep', 'reports'])
      mkdirSync(join(root, d), { recursive: true });
    const files = [
      'sim/env.ts',
      'sim/sweep/pool.ts',
      'models/qemu/ram.ts',
      'models/sweep/plan.ts',
      'models/command.ts',
      'reports/x.ts',
    ];
    for (const f of files) writeFileSync(join(root, f), `// ${f}\n`);
    const b0 = simulatorBuild(root);
    expect(b0).toMatch(/^[0-9a-f]{16}$/);
    const changed = (f: string) => {
      writeFileSync(join(root, f), `// ${f} edited\n`);
      clearBuildCache();
      return simulatorBuild(root);
    };
    expect(changed('sim/sweep/pool.ts')).toBe(b0);
    expect(changed('models/sweep/plan.ts')).toBe(b0);
    expect(changed('models/command.ts')).toBe(b0);
    expect(changed('reports/x.ts')).toBe(b0);
    const b1 = changed('models/qemu/ram.ts');
    expect(b1).not.toBe(b0);
    expect(changed('sim/env.ts')).not.toBe(b1);
  });

  it('is stable for this checkout', () => {
    expect(simulatorBuild()).toBe(simulatorBuild());
  });
});

describe('records of another simulator build', () => {
  it('are recomputed, and replaced when the store is merged', async () => {
    const spec = loadSweepSpec(new URL('../../fixtures/sweep/small-grid.yaml', import.meta.url).pathname);
    const out = join(dir, 'grid');
    const a = await runSweep(spec, { outDir: out, workers: 0, build: 'old-build' });
    expect(a).toMatchObject({ computed: 18, stale: 0 });
    expect(readStore(storeFile(out)).records.every((r) => r.build === 'old-build')).toBe(true);
    expect(collectSweep(spec, out, { build: 'new-build' })).toMatchObject({ stored: 18, stale: 18 });

    const b = await runSweep(spec, { outDir: out, workers: 0, build: 'new-build' });
    expect(b).toMatchObject({ stored: 0, stale: 18, computed: 18 });
    const after = readStore(storeFile(out)).records;
    expect(after).toHaveLength(18);
    expect(after.every((r) => r.build === 'new-build')).toBe(true);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').split('\n')[1]).toContain(',new-build,');

    const c = await runSweep(spec, { outDir: out, workers: 0, build: 'new-build' });
    expect(c).toMatchObject({ stored: 18, stale: 0, computed: 0 });
  });
});
