import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSweepSpec } from '../../../models/sweep/spec.ts';
import { runSweep, sbatchSweep, storeFile } from '../../../models/sweep/sweep.ts';
import { readStore } from '../../../sim/sweep/store.ts';
import { missingSlurmPrograms, type SlurmCluster, startSlurmCluster } from './slurm-cluster.ts';

// A real single-node Slurm (../shared/docs/slurm-lab.md). In CI a missing Slurm fails this test; elsewhere
// it is skipped with the reason.
const missing = missingSlurmPrograms();
const ci = process.env.CI === 'true' || process.env.CI === '1';
const runIt = missing.length === 0 || ci ? it : it.skip;

const SPEC = new URL('../../fixtures/sweep/small-grid.yaml', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'migscope-slurm-sweep-'));
let cluster: SlurmCluster | null = null;
let savedConf: string | undefined;

beforeAll(async () => {
  if (missing.length > 0) return;
  cluster = await startSlurmCluster();
  savedConf = process.env.SLURM_CONF;
  process.env.SLURM_CONF = cluster.env.SLURM_CONF;
}, 120_000);

afterAll(async () => {
  if (savedConf === undefined) delete process.env.SLURM_CONF;
  else process.env.SLURM_CONF = savedConf;
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('sweep on a real single-node Slurm', () => {
  runIt(
    'a job array merges to the same results as a local run, and resubmitting computes only what is missing',
    async () => {
      expect(
        missing,
        `Slurm is not installed (run test/setup/install-slurm.sh); missing: ${missing.join(', ')}`,
      ).toEqual([]);
      const spec = loadSweepSpec(SPEC);
      const local = join(dir, 'local');
      await runSweep(spec, { outDir: local, workers: 1 });

      const shared = join(dir, 'shared');
      const s = await sbatchSweep(spec, { outDir: shared, tasks: 4, wait: true });
      expect(s.jobId).toMatch(/^\d+$/);
      expect(s.end).toEqual({ states: { COMPLETED: 4 }, failed: 0 });
      expect(s.collected).toMatchObject({ total: 18, stored: 18, failed: 0, missing: 0 });
      expect(readdirSync(join(shared, 'shards')).sort()).toEqual([
        '0-of-4.jsonl',
        '1-of-4.jsonl',
        '2-of-4.jsonl',
        '3-of-4.jsonl',
      ]);
      expect(readStore(join(shared, 'shards', '3-of-4.jsonl')).records).toHaveLength(4);
      expect(readdirSync(join(shared, 'logs'))).toHaveLength(4);
      expect(readFileSync(storeFile(shared), 'utf8')).toBe(readFileSync(storeFile(local), 'utf8'));
      expect(readFileSync(join(shared, 'results.csv'), 'utf8')).toBe(
        readFileSync(join(local, 'results.csv'), 'utf8'),
      );

      // Lose task 1's shard and the merged store: a resubmission recomputes exactly those 5 runs.
      rmSync(join(shared, 'shards', '1-of-4.jsonl'));
      rmSync(storeFile(shared));
      const again = await sbatchSweep(spec, { outDir: shared, tasks: 4, wait: true });
      expect(again.collected).toMatchObject({ stored: 18, missing: 0 });
      const logs = readdirSync(join(shared, 'logs'))
        .filter((f) => f.startsWith(`${again.jobId}_`))
        .map((f) => readFileSync(join(shared, 'logs', f), 'utf8'))
        .join('\n');
      const computed = [...logs.matchAll(/(\d+) computed/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(computed).toBe(5);
      expect(readFileSync(storeFile(shared), 'utf8')).toBe(readFileSync(storeFile(local), 'utf8'));
    },
    180_000,
  );
});
