import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The sweep engine is generic: it knows nothing of scenarios, QEMU or reports.
describe('sim/sweep import boundary', () => {
  const dir = new URL('../../../sim/sweep/', import.meta.url).pathname;
  const files = readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f));
  const importsOf = (f: string) => {
    const text = readFileSync(join(dir, f), 'utf8');
    return [
      ...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s*'([^']+)'/gm),
      ...text.matchAll(/^\s*import\s*'([^']+)'/gm),
      ...text.matchAll(/\bimport\(\s*'([^']+)'/g),
    ].map((m) => m[1]!);
  };

  it('finds the imports it checks', () => {
    expect(importsOf('expand.ts')).toEqual(['../random.ts', './design.ts']);
  });

  it.each(files)('%s imports only node:, tsx, sim/errors, sim/random and its siblings', (f) => {
    for (const s of importsOf(f)) expect(s).toMatch(/^(node:|tsx\/|\.\/|\.\.\/(errors|random)\.ts$)/);
    expect(readFileSync(join(dir, f), 'utf8')).not.toMatch(/Math\.random|Date\.now/);
  });
});
