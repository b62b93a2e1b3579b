/**
 * The QEMU processes a lab run starts, and the guarantee that they end with it: every process is tracked
 * by the PID this module started, and a process-exit hook SIGKILLs whatever is still alive (a crash or an
 * uncaught error in the run must not leave a QEMU behind). Temporary directories get the same hook.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let hooked = false;

function killAll(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers must be synchronous: kill and rm are.
  process.on('exit', killAll);
  // A plain SIGTERM/SIGHUP ends node without 'exit' handlers (a test runner stopping its workers does
  // this), which would orphan the QEMUs. Clean up, then die of the same signal unless someone else
  // handles it.
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

/** Remove `dir` at process exit if the run has not removed it by then. */
export function registerTempDir(dir: string): void {
  hook();
  tempDirs.add(dir);
}

/** Remove a temporary directory now. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** The PIDs of lab QEMUs still running in this process (tests assert it is empty after a run). */
export function livePids(): number[] {
  return [...live].map((c) => c.pid!).filter((p) => p !== undefined);
}

/** One QEMU process. */
export class QemuProcess {
  /** Set once the process has exited. */
  exit: ExitInfo | null = null;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  readonly pid: number;
  private readonly child: ChildProcess;

  /** Start `bin args`, stdout and stderr to `logFile`. Throws if it cannot be spawned. */
  constructor(
    readonly role: 'source' | 'destination',
    bin: string,
    args: string[],
    logFile: string,
  ) {
    hook();
    const fd = openSync(logFile, 'w');
    try {
      // Own process group: a terminal's Ctrl-C reaches only migscope, which cancels the migration and
      // stops QEMU in order, instead of QEMU dying mid-migration from the same SIGINT.
      this.child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    if (this.child.pid === undefined) throw new Error(`cannot start ${bin}`);
    this.pid = this.child.pid;
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', () => {
        live.delete(this.child);
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  /** Whether the process is still running. */
  get alive(): boolean {
    return this.exit === null;
  }

  /** Send `signal` to this process (by its PID) if it still runs. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Wait up to `ms` for the process to exit; SIGKILL it if it has not. */
  async stop(ms: number): Promise<ExitInfo> {
    if (this.exit) return this.exit;
    const r = await Promise.race([this.exited, sleep(ms, undefined, { ref: false }).then(() => null)]);
    if (r) return r;
    this.kill('SIGKILL');
    return this.exited;
  }
}

/** "exited with code 1" / "killed by SIGKILL". */
export function describeExit(e: ExitInfo | null): string {
  if (!e) return 'still running';
  if (e.signal) return `killed by ${e.signal}`;
  return `exited with code ${e.code}`;
}
