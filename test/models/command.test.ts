/** `migscope sim` as a user runs it: a real process, real files, real exit codes. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = (args: string[], cwd = process.cwd()) =>
  spawnSync(process.execPath, [join(process.cwd(), 'migscope.js'), ...args], { cwd, encoding: 'utf8' });

describe('migscope sim', () => {
  it('runs the built-in scenario and writes result.json and trace.otlp.jsonl', () => {
    const out = mkdtempSync(join(tmpdir(), 'migscope-'));
    const r = cli(['sim', '--out', out, '--set', 'vm.memoryMiB=128']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/outcome\s+completed/);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    expect(result.source).toBe('sim');
    expect(result.scenario.vm.memoryMiB).toBe(128);
    expect(existsSync(join(out, 'trace.otlp.jsonl'))).toBe(true);
  });

  it('runs a scenario file and is deterministic across processes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migscope-'));
    const file = join(dir, 's.yaml');
    writeFileSync(
      file,
      'name: t\nvm:\n  memoryMiB: 32\nworkload:\n  kind: zipf\n  wssMiB: 4\n  dirtyRateMiBps: 2\n',
    );
    expect(cli(['sim', file, '--out', join(dir, 'a')]).status).toBe(0);
    expect(cli(['sim', file, '--out', join(dir, 'b')]).status).toBe(0);
    for (const f of ['result.json', 'trace.otlp.jsonl'])
      expect(readFileSync(join(dir, 'b', f), 'utf8')).toBe(readFileSync(join(dir, 'a', f), 'utf8'));
  });

  it('bad input: exit 2, one line naming the file and key, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migscope-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'vm:\n  memoryMiB: lots\n');
    const cases: Array<[string[], RegExp]> = [
      [['sim', file], /bad\.yaml: vm\.memoryMiB: expected a number, got "lots"/],
      [['sim', join(dir, 'missing.yaml')], /missing\.yaml: cannot read/],
      [['sim', '--set', 'model=qemu-1.0'], /model: unknown value "qemu-1\.0"/],
      [['sim', '--trace-granularity', 'fine'], /--trace-granularity: unknown value "fine"/],
      [['sim', '--bogus'], /sim: Unknown option '--bogus'/],
      [['frobnicate'], /unknown command "frobnicate"/],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--help explains itself', () => {
    const top = execFileSync(process.execPath, ['migscope.js', '--help'], { encoding: 'utf8' });
    expect(top).toMatch(/commands:[\s\S]*sim/);
    const sim = execFileSync(process.execPath, ['migscope.js', 'sim', '--help'], { encoding: 'utf8' });
    expect(sim).toMatch(/--trace-granularity/);
  });
});
