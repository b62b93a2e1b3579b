import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

it('the kernel (sim/) imports nothing from models/, trace/ or reports/', () => {
  const offenders = files('sim').filter((f) =>
    /from '\.\.\/(\.\.\/)?(models|trace|reports)\//.test(readFileSync(f, 'utf8')),
  );
  expect(offenders).toEqual([]);
});

it('sim/ and models/ never read the wall clock or Math.random', () => {
  const offenders = [...files('sim'), ...files('models')].filter((f) => {
    if (
      f.includes('command.ts') ||
      f.includes(`${join('models', 'sweep')}`) ||
      f.includes(join('sim', 'sweep'))
    )
      return false;
    return /Math\.random\(|Date\.now\(/.test(readFileSync(f, 'utf8'));
  });
  expect(offenders).toEqual([]);
});
