/** The `migscope` binary as tests run it: the real entry point in a child process. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
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
