import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HELP, run } from '../../../models/sweep/command.ts';
import { UsageError } from '../../../sim/errors.ts';
import { readStore } from '../../../sim/sweep/store.ts';

const FIXTURES = new URL('../../fixtures/sweep/', import.meta.url).pathname;
const MIXED = `${FIXTURES}mixed.yaml`;
const GRID = `${FIXTURES}small-grid.yaml`;
const dir = mkdtempSync(join(tmpdir(), 'migscope-sweep-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let stderr: string[];
let stdout: string[];
beforeEach(() => {
  stderr = [];
  stdout = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((t) => stderr.push(String(t)) > 0);
  vi.spyOn(process.stdout, 'write').mockImplementation((t) => stdout.push(String(t)) > 0);
});
afterEach(() => vi.restoreAllMocks());

async function usageError(argv: string[]): Promise<string> {
  try {
    await run(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('migscope sweep', () => {
  it('documents every subcommand and an sbatch example', () => {
    for (const s of ['run SPEC', 'sbatch SPEC --out SHARED_DIR', 'collect SPEC', 'csv SPEC', 'plot SPEC'])
      expect(HELP).toContain(s);
  });

  it('run: stores every run, failed ones with their error, and writes the CSV', async () => {
    const out = join(dir, 'mixed');
    expect(await run(['run', MIXED, '--out', out, '--workers', '1'])).toBe(0);
    const { records } = readStore(join(out, 'results.jsonl'));
    expect(records.map((r) => r.status)).toEqual(['error', 'error', 'ok', 'ok']);
    expect(records[0]!.error).toBe('run 0: workload.wssMiB: working set (128 MiB) exceeds vm.memoryMiB (64)');
    expect(records[0]!.invalid).toBe(true);
    expect((records[2]!.output as { outcome: string }).outcome).toBe('timeout');
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(5);
    expect(stderr.join('')).toContain('sweep mixed: 4 runs: 0 already stored, 4 computed (2 failed)');

    stderr = [];
    expect(await run(['run', MIXED, '--out', out, '--workers', '1'])).toBe(0);
    expect(stderr.join('')).toContain('4 already stored, 0 computed');
  });

  it('run --retry-failed reruns stored failures', async () => {
    const out = join(dir, 'mixed');
    expect(await run(['run', MIXED, '--out', out, '--workers', '0', '--retry-failed'])).toBe(0);
    expect(stderr.join('')).toContain('2 already stored, 2 computed (2 failed)');
  });

  it('run --index/--of shards, and collect merges the shards into what an unsharded run stores', async () => {
    const whole = join(dir, 'grid-whole');
    const sharded = join(dir, 'grid-sharded');
    expect(await run(['run', GRID, '--out', whole, '--workers', '0'])).toBe(0);
    expect(await run(['run', GRID, '--out', sharded, '--workers', '0', '--index', '0', '--of', '3'])).toBe(0);
    expect(await run(['run', GRID, '--out', sharded, '--workers', '0', '--index', '2', '--of', '3'])).toBe(0);
    expect(readStore(join(sharded, 'shards', '0-of-3.jsonl')).records).toHaveLength(6);
    expect(existsSync(join(sharded, 'results.csv'))).toBe(false);

    expect(await run(['collect', GRID, '--out', sharded])).toBe(0);
    expect(stderr.join('')).toContain('12/18 runs stored (0 failed), 6 missing: run again to compute them');
    expect(await run(['run', GRID, '--out', sharded, '--workers', '0', '--index', '1', '--of', '3'])).toBe(0);
    expect(await run(['collect', GRID, '--out', sharded])).toBe(0);
    const merged = readFileSync(join(sharded, 'results.jsonl'), 'utf8');
    expect(merged).toBe(readFileSync(join(whole, 'results.jsonl'), 'utf8'));
    expect(readFileSync(join(sharded, 'results.csv'), 'utf8')).toBe(
      readFileSync(join(whole, 'results.csv'), 'utf8'),
    );
    // Collecting again changes nothing.
    expect(await run(['collect', GRID, '--out', sharded])).toBe(0);
    expect(readFileSync(join(sharded, 'results.jsonl'), 'utf8')).toBe(merged);
  });

  it('csv writes to a file or stdout', async () => {
    const out = join(dir, 'grid-whole');
    expect(await run(['csv', GRID, '--out', out, '--output', '-'])).toBe(0);
    expect(stdout.join('')).toBe(readFileSync(join(out, 'results.csv'), 'utf8'));
    expect(await run(['csv', GRID, '--out', out, '--output', join(dir, 'x.csv')])).toBe(0);
    expect(readFileSync(join(dir, 'x.csv'), 'utf8')).toBe(stdout.join(''));
  });

  it('plot writes SVGs', async () => {
    expect(await run(['plot', MIXED, '--out', join(dir, 'mixed')])).toBe(0);
    const svg = readFileSync(
      join(dir, 'mixed', 'plots', 'heatmap-totalTimeMs-vm.memoryMiB-migration.timeoutS.svg'),
      'utf8',
    );
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain('class="nonconverged"');
  });

  it('sbatch --dry-run writes a job array script without submitting', async () => {
    const out = join(dir, 'sb');
    expect(await run(['sbatch', GRID, '--out', out, '--tasks', '4', '--max-running', '2', '--dry-run'])).toBe(
      0,
    );
    const script = readFileSync(join(out, 'sweep.sbatch'), 'utf8');
    expect(script).toContain('#SBATCH --array=0-3%2');
    expect(script).toContain(
      `sweep run ${GRID} --out ${out} --index "$SLURM_ARRAY_TASK_ID" --of 4 --workers 1`,
    );
    expect(stdout).toEqual([]);
  });

  it('sbatch: Slurm refusing the job is a usage error naming the script', async () => {
    const saved = process.env.SLURM_CONF;
    process.env.SLURM_CONF = join(dir, 'no-such-slurm.conf');
    try {
      const message = await usageError(['sbatch', GRID, '--out', join(dir, 'refused')]);
      expect(message).toMatch(/sbatch/);
      expect(message).toContain(`(script: ${join(dir, 'refused', 'sweep.sbatch')})`);
    } finally {
      if (saved === undefined) delete process.env.SLURM_CONF;
      else process.env.SLURM_CONF = saved;
    }
  });

  it.each([
    [[], 'sweep: expected a subcommand (run, sbatch, collect, csv, plot), got nothing'],
    [['go', GRID], 'sweep: expected a subcommand (run, sbatch, collect, csv, plot), got "go"'],
    [['run'], 'sweep run: expected one SPEC file, got 0'],
    [['run', GRID, '--workers', 'two'], '--workers: expected a whole number >= 0, got "two"'],
    [['run', GRID, '--index', '1'], 'sweep run: --index and --of go together'],
    [['run', GRID, '--index', '3', '--of', '3'], '--index: must be < --of (3 >= 3)'],
    [['run', GRID, '--tasks', '3'], 'sweep run: --tasks is not an option of run'],
    [['run', GRID, '--bogus'], "sweep run: Unknown option '--bogus'"],
    [['sbatch', GRID], 'sweep sbatch: --out SHARED_DIR is required'],
    [['sbatch', GRID, '--out', dir, '--tasks', '0'], '--tasks: expected a whole number >= 1, got "0"'],
    [['run', `${FIXTURES}nope.yaml`], 'nope.yaml: cannot read (ENOENT)'],
  ])('%j is a usage error', async (argv, message) => {
    expect(await usageError(argv)).toContain(message);
  });
});
