/** `migscope lab` through the real entry point: bad input exits 2 with one line, before any QEMU starts. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../trace/lab/guest.ts';
import { migscope } from '../../helpers/cli.ts';

describe('migscope lab', () => {
  it('prints help', async () => {
    const r = await migscope('lab', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^migscope lab run FILE/);
  });

  it('exits 2 with one line for bad input', async () => {
    const cases = [
      [['lab'], /expected the subcommand "run"/],
      [['lab', 'go', 'x.yaml'], /expected the subcommand "run"/],
      [['lab', 'run', 'no-such.yaml'], /no-such.yaml: cannot read/],
      [
        ['lab', 'run', join(REPO_ROOT, 'test/fixtures/lab/idle.yaml'), '--set', 'model=qemu-0.12.3'],
        /model: the lab runs QEMU 7.2/,
      ],
      [
        ['lab', 'run', join(REPO_ROOT, 'test/fixtures/lab/idle.yaml'), '--set', 'vm.memoryMiB=16'],
        /vm.memoryMiB/,
      ],
    ] as const;
    const runs = await Promise.all(cases.map(([args]) => migscope(...args)));
    cases.forEach(([args, msg], i) => {
      const r = runs[i]!;
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  });
});
