import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli.ts';
import { HELP, run } from '../../reports/command.ts';
import { COMPARE_FILES, REPORT_FILES } from '../../reports/report.ts';
import { UsageError } from '../../sim/errors.ts';
import { captureOutput } from '../helpers/cli.ts';
import { sampleRunDir, tempDir } from './helpers.ts';

let out: string[];
let err: string[];
beforeEach(() => {
  ({ out, err } = captureOutput());
});
afterEach(() => vi.restoreAllMocks());

describe('migscope report', () => {
  it('documents both forms', () => {
    expect(HELP).toContain('migscope report RUN [--out DIR]');
    expect(HELP).toContain('migscope report compare RUN_A RUN_B');
  });

  it('writes the page and every side file of a run', async () => {
    const dest = join(tempDir(), 'r');
    expect(await run([sampleRunDir('tick'), '--out', dest])).toBe(0);
    for (const f of Object.values(REPORT_FILES)) expect(existsSync(join(dest, f)), f).toBe(true);
    expect(out.join('')).toContain(`wrote ${join(dest, 'report.html')}`);
    const speedscope = JSON.parse(readFileSync(join(dest, REPORT_FILES.speedscope), 'utf8'));
    expect(speedscope.profiles).toHaveLength(2);
  });

  it('defaults --out to RUN/report and accepts a file of the run', async () => {
    const dir = sampleRunDir('iteration');
    expect(await run([join(dir, 'result.json')])).toBe(0);
    expect(existsSync(join(dir, 'report', REPORT_FILES.page))).toBe(true);
  });

  it('compares two runs', async () => {
    const dest = join(tempDir(), 'c');
    expect(await run(['compare', sampleRunDir('iteration'), sampleRunDir('tick'), '-o', dest])).toBe(0);
    for (const f of Object.values(COMPARE_FILES)) expect(existsSync(join(dest, f)), f).toBe(true);
    expect(readFileSync(join(dest, COMPARE_FILES.diffTime), 'utf8')).toMatch(/^virsh\.migrate;\S+ \d+ \d+$/m);
  });

  it('rejects bad input with one line naming the file (exit 2 through the CLI)', async () => {
    const d = tempDir();
    await expect(run([])).rejects.toThrow(UsageError);
    await expect(run(['a', 'b'])).rejects.toThrow(/did you mean "report compare a b"/);
    await expect(run(['compare', 'a'])).rejects.toThrow(/expected two runs/);
    await expect(run(['--bogus', 'x'])).rejects.toThrow(UsageError);
    writeFileSync(join(d, 'trace.otlp.jsonl'), '{"resourceSpans":[]}\nnot json\n');
    await expect(run([d])).rejects.toThrow(`${join(d, 'trace.otlp.jsonl')}:2: not JSON`);
    expect(await main(['report', join(d, 'missing')])).toBe(2);
    expect(err.join('')).toMatch(/^migscope: .*missing: no such file or directory\n$/);
  });

  it('keeps the files already written when a later one fails', async () => {
    const dest = join(tempDir(), 'r');
    mkdirSync(join(dest, REPORT_FILES.page), { recursive: true }); // the page cannot be written over a directory
    await expect(run([sampleRunDir('tick'), '--out', dest])).rejects.toThrow(
      new RegExp(`${join(dest, REPORT_FILES.page)}: cannot write`),
    );
    expect(existsSync(join(dest, REPORT_FILES.foldedTime))).toBe(true);
    expect(existsSync(join(dest, REPORT_FILES.timeline))).toBe(true);
  });
});
