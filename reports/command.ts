/**
 * `migscope report`: turn a run directory (result.json and/or trace.otlp.jsonl) into an HTML page with
 * its timeline and flame graphs, plus folded stacks, a speedscope profile and SVGs; `report compare A B`
 * puts two runs of one scenario on one page.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../sim/errors.ts';
import { readRun } from './read.ts';
import { compareReportFiles, runReportFiles } from './report.ts';

/** `migscope report --help`. */
export const HELP = `migscope report RUN [--out DIR]
migscope report compare RUN_A RUN_B [--out DIR]

RUN is a run directory (result.json and/or trace.otlp.jsonl, as migscope sim --out or the lab writes
them) or one of those two files.

  report RUN            writes report.html (summary, timeline, flame graphs of time and bytes; one
                        self-contained file), flame-time.folded and flame-bytes.folded (Brendan Gregg's
                        folded stacks, µs and bytes), profile.speedscope.json, flame-*.svg, timeline.svg
  report compare A B    writes compare.html (error summary, iterations side by side, overlaid
                        timelines, differential flame graphs), diff-*.folded (difffolded "stack A B"),
                        timeline.svg. Errors are measured against the real run when one of the two is real.

  --out DIR   where to write (default: RUN/report, or A/compare for a comparison)
`;

/** Write `files` into `dir` one by one, recording each path in `written` (files stay if a later one fails). */
function writeAll(dir: string, files: Iterable<[string, string]>, written: string[]): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`${dir}: cannot create (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  for (const [name, text] of files) {
    const p = join(dir, name);
    try {
      writeFileSync(p, text);
    } catch (err) {
      throw new UsageError(`${p}: cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    written.push(p);
  }
}

function runDir(path: string): string {
  return /\.(json|jsonl)$/.test(path) ? resolve(path, '..') : path;
}

/** Run `migscope report` with `argv` (after the command name); returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  let values: { out?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { out: { type: 'string', short: 'o' } },
      allowPositionals: true,
    }));
  } catch (err) {
    throw new UsageError(`report: ${(err as Error).message}`);
  }
  const written: string[] = [];
  if (positionals[0] === 'compare') {
    if (positionals.length !== 3)
      throw new UsageError('report compare: expected two runs (migscope report compare RUN_A RUN_B)');
    const [, pa, pb] = positionals as [string, string, string];
    const a = readRun(pa);
    const b = readRun(pb);
    const out = values.out ?? join(runDir(pa), 'compare');
    writeAll(out, compareReportFiles(a, b), written);
    process.stdout.write(`${written.map((p) => `wrote ${p}`).join('\n')}\n`);
    return 0;
  }
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0
        ? 'report: expected a run directory or file (migscope report RUN [--out DIR])'
        : `report: expected one run, got ${positionals.length} (did you mean "report compare ${positionals.join(' ')}"?)`,
    );
  const path = positionals[0]!;
  const data = readRun(path);
  const out = values.out ?? join(runDir(path), 'report');
  try {
    writeAll(out, runReportFiles(data), written);
  } finally {
    if (written.length > 0) process.stdout.write(`${written.map((p) => `wrote ${p}`).join('\n')}\n`);
  }
  return 0;
}
