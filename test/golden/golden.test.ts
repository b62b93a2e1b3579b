/**
 * Golden runs, in the manner of SimPy's .out transcripts: each test/golden/<name>.yaml has its expected
 * result.json and trace beside it, compared byte for byte. After an intended model change, regenerate
 * with UPDATE_GOLDEN=1 npx vitest run test/golden and review the diff.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resultToJson } from '../../models/result.ts';
import { loadScenario } from '../../models/scenario.ts';
import { simulate } from '../../models/simulate.ts';
import { toOtlpJsonl } from '../../trace/export/otlp-jsonl.ts';

const dir = join(process.cwd(), 'test', 'golden');

describe('golden runs', () => {
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) {
    it(f, () => {
      const name = f.replace(/\.yaml$/, '');
      const { result, spans } = simulate(loadScenario(join(dir, f)), { granularity: 'iteration' });
      const got = { result: resultToJson(result), trace: toOtlpJsonl([spans]) };
      for (const [kind, ext] of [['result', '.result.json'], ['trace', '.trace.otlp.jsonl']] as const) {
        const path = join(dir, name + ext);
        if (process.env.UPDATE_GOLDEN || !existsSync(path)) {
          if (process.env.CI) throw new Error(`${path} is missing; generate it with UPDATE_GOLDEN=1`);
          writeFileSync(path, got[kind]);
        }
        expect(got[kind] === readFileSync(path, 'utf8'), `${path} differs`).toBe(true);
      }
    });
  }
});
