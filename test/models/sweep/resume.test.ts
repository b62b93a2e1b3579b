import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSweepSpec } from '../../../models/sweep/spec.ts';
import { runSweep, storeFile } from '../../../models/sweep/sweep.ts';
import { readStore } from '../../../sim/sweep/store.ts';

const SPEC = new URL('../../fixtures/sweep/resume.yaml', import.meta.url).pathname;
const MIGSCOPE = new URL('../../../migscope.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'migscope-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lineCount(file: string): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8').split('\n').length - 1;
}

/** Start `migscope sweep run` in a child process, SIGKILL it once `atLeast` runs are stored. */
async function runAndKill(out: string, atLeast: number): Promise<NodeJS.Signals | null> {
  const child: ChildProcess = spawn(
    process.execPath,
    [MIGSCOPE, 'sweep', 'run', SPEC, '--out', out, '--workers', '2'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done && lineCount(storeFile(out)) < atLeast) await new Promise((r) => setTimeout(r, 2));
  child.kill('SIGKILL');
  const signal = await exited;
  if (signal !== 'SIGKILL') throw new Error(`the sweep ended before it could be killed:\n${stderr}`);
  return signal;
}

describe('resume after kill -9', () => {
  const spec = loadSweepSpec(SPEC);

  it('loses only runs in flight, keeps the store readable, and completes to the same results', async () => {
    const reference = join(dir, 'reference');
    const r0 = await runSweep(spec, { outDir: reference, workers: 1 });
    expect(r0).toMatchObject({ total: 60, stored: 0, computed: 60, failed: 0 });

    const killed = join(dir, 'killed');
    expect(await runAndKill(killed, 8)).toBe('SIGKILL');

    const afterKill = readStore(storeFile(killed));
    const n = afterKill.records.length;
    expect(n).toBeGreaterThanOrEqual(8);
    expect(n).toBeLessThan(60);
    expect(afterKill.badLines).toEqual([]);
    expect(new Set(afterKill.records.map((r) => r.key)).size).toBe(n);
    // What was stored before the kill is exactly what an uninterrupted run computes for those keys.
    const ref = new Map(readStore(storeFile(reference)).records.map((r) => [r.key, r]));
    for (const rec of afterKill.records) expect(rec).toEqual(ref.get(rec.key));

    const r1 = await runSweep(spec, { outDir: killed, workers: 1 });
    expect(r1).toMatchObject({ total: 60, stored: n, computed: 60 - n, failed: 0 });
    expect(readStore(storeFile(killed)).tornTail).toBe(false);
    expect(readFileSync(storeFile(killed), 'utf8')).toBe(readFileSync(storeFile(reference), 'utf8'));
    expect(readFileSync(join(killed, 'results.csv'), 'utf8')).toBe(
      readFileSync(join(reference, 'results.csv'), 'utf8'),
    );

    const r2 = await runSweep(spec, { outDir: killed, workers: 1 });
    expect(r2).toMatchObject({ stored: 60, computed: 0 });
  });
});
