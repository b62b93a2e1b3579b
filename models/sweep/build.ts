/**
 * The simulator build: a fingerprint of the code a run's result depends on (every .ts and .js file under
 * sim/ and models/, except the sweep machinery and the commands). A run is keyed by its scenario alone,
 * so a store could outlive the code that filled it; each record carries the build, and a record of
 * another build is recomputed rather than mixed with fresh results (as ns-3's SEM ties a campaign to a
 * commit).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string, out: string[]): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'sweep' && e.name !== 'node_modules') sources(p, out);
    } else if (/\.(ts|js)$/.test(e.name) && e.name !== 'command.ts') out.push(p);
  }
  return out;
}

const cache = new Map<string, string>();

/** 16 hex digits naming the simulator code under `root` (default: this checkout); cached per process. */
export function simulatorBuild(root: string = ROOT): string {
  const hit = cache.get(root);
  if (hit) return hit;
  const files = [...sources(join(root, 'sim'), []), ...sources(join(root, 'models'), [])]
    .map((f) => relative(root, f))
    .sort();
  const h = createHash('sha256');
  for (const f of files)
    h.update(`${f}\0`)
      .update(readFileSync(join(root, f)))
      .update('\0');
  const build = h.digest('hex').slice(0, 16);
  cache.set(root, build);
  return build;
}

/** Forget cached builds (tests that edit files). */
export function clearBuildCache(): void {
  cache.clear();
}
