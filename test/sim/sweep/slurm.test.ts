import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  batchScript,
  listShards,
  mergeStores,
  ownsRun,
  shardFile,
  shellQuote,
  TASK_INDEX,
} from '../../../sim/sweep/slurm.ts';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('batchScript', () => {
  it('writes a job array whose tasks get their index from Slurm', () => {
    const s = batchScript({
      jobName: 'migscope-bw',
      tasks: 10,
      maxRunning: 4,
      cpusPerTask: 2,
      logDir: '/shared/out/logs',
      workdir: '/shared/out',
      command: [
        '/usr/bin/node',
        '/opt/migscope/migscope.js',
        'sweep',
        'run',
        '/shared/my sweep.yaml',
        '--index',
        TASK_INDEX,
        '--of',
        '10',
      ],
      timeLimit: '0:30:00',
    });
    expect(s.split('\n')).toEqual([
      '#!/bin/sh',
      '#SBATCH --job-name=migscope-bw',
      '#SBATCH --array=0-9%4',
      '#SBATCH --ntasks=1',
      '#SBATCH --cpus-per-task=2',
      '#SBATCH --output=/shared/out/logs/%A_%a.out',
      '#SBATCH --time=0:30:00',
      'set -e',
      'cd /shared/out',
      `exec /usr/bin/node /opt/migscope/migscope.js sweep run '/shared/my sweep.yaml' --index "$SLURM_ARRAY_TASK_ID" --of 10`,
      '',
    ]);
  });

  it('rejects an empty array', () => {
    expect(() =>
      batchScript({ jobName: 'x', tasks: 0, cpusPerTask: 1, logDir: '/l', workdir: '/w', command: ['true'] }),
    ).toThrow(RangeError);
  });

  it('quotes for sh', () => {
    expect(shellQuote('a/b-c.d')).toBe('a/b-c.d');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('$HOME')).toBe(`'$HOME'`);
  });
});

describe('shards', () => {
  it('splits runs evenly: every run owned by exactly one task', () => {
    const owners = Array.from({ length: 23 }, (_, r) => [0, 1, 2, 3].filter((t) => ownsRun(r, t, 4)));
    expect(owners.every((o) => o.length === 1)).toBe(true);
    const sizes = [0, 1, 2, 3].map((t) => owners.filter((o) => o[0] === t).length);
    expect(sizes).toEqual([6, 6, 6, 5]);
  });

  it('merges shards idempotently, preferring successes and counting torn lines', () => {
    dir = mkdtempSync(join(tmpdir(), 'migscope-shards-'));
    mkdirSync(join(dir, 'shards'));
    const line = (key: string, status: string) => `${JSON.stringify({ key, status })}\n`;
    writeFileSync(shardFile(dir, 0, 2), line('a', 'ok') + line('b', 'error'));
    writeFileSync(shardFile(dir, 1, 2), `${line('b', 'ok') + line('c', 'ok')}{"key":"d"`);
    writeFileSync(join(dir, 'shards', 'notes.txt'), 'ignored');
    expect(listShards(dir).map((f) => f.slice(dir.length))).toEqual([
      '/shards/0-of-2.jsonl',
      '/shards/1-of-2.jsonl',
    ]);
    const m = mergeStores(listShards(dir));
    expect([...m.byKey.keys()]).toEqual(['a', 'b', 'c']);
    expect(m.byKey.get('b')!.status).toBe('ok');
    expect(m.skipped).toEqual([{ file: shardFile(dir, 1, 2), lines: 1 }]);
    expect(mergeStores([...listShards(dir), ...listShards(dir)]).byKey).toEqual(m.byKey);
  });
});
