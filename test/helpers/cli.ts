/** The `migscope` binary as tests run it: the real entry point in a child process. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { vi } from 'vitest';
import { main } from '../../cli.ts';
import { REPO_ROOT } from '../../trace/lab/guest.ts';

/** Run the CLI; each start compiles TypeScript (about 2 s), so callers run several at once. */
export function migscope(
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [join(REPO_ROOT, 'migscope.js'), ...args], { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => {
      stdout += d;
    });
    c.stderr.on('data', (d) => {
      stderr += d;
    });
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Collect what is written to stdout and stderr until `restore()` (or vi.restoreAllMocks, e.g. in
 * afterEach).
 */
export function captureOutput(): { out: string[]; err: string[]; restore: () => void } {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err.push(String(s));
    return true;
  });
  return {
    out,
    err,
    restore: () => {
      o.mockRestore();
      e.mockRestore();
    },
  };
}

/** `migscope ARGV` in this process (cli.ts main), with its exit code and what it printed. */
export async function mainCaptured(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureOutput();
  try {
    return { code: await main(argv), out: c.out.join(''), err: c.err.join('') };
  } finally {
    c.restore();
  }
}
