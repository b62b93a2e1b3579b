/**
 * What the lab boots: where the built guest lives, which scenarios it can run, the kernel command line
 * that hands the scenario's workload to the guest's dirtier, and the QEMU command lines of both sides.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from '../../models/scenario.ts';
import { PAGES_PER_MIB } from '../../models/workloads/page-writes.ts';
import { UsageError } from '../../sim/errors.ts';

/** The repository root (trace/lab/ is two levels down). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where test/setup/install-qemu.sh builds the guest. */
export const DEFAULT_LAB_DIR = join(REPO_ROOT, '.cache', 'lab');
/** Why the lab adds 8 KiB to guest RAM: QEMU 7.2 under TCG loses dirty pages when RAM is a multiple of
 * 256 KiB (real-lab.md §2.6); an odd size forces the per-page bitmap sync that re-arms TLB dirty tracking. */
export const RAM_EXTRA_KIB = 8;
/** Smallest guest the cloud kernel and initramfs boot in with room for a working set. */
export const MIN_MEMORY_MIB = 64;
/**
 * RAM the guest kernel and initramfs keep for themselves; the working set must fit beside it. Measured
 * with the layout probe on a 128 MiB guest: a 64 MiB working set runs, 72 MiB gets the dirtier
 * OOM-killed (anon-rss stops at ~64 MiB).
 */
export const KERNEL_RESERVE_MIB = 64;
/** Capabilities that both QEMUs must agree on (the others are source-only). */
const BOTH_SIDES = new Set(['multifd', 'xbzrle']);

/** The built guest and the binaries that run it. */
export interface LabFiles {
  dir: string;
  kernel: string;
  initrd: string;
  dirtier: string;
  qemu: string;
  qemuImg: string;
}

/** Locate the built guest and QEMU; throws UsageError naming what is missing and how to install it. */
export function findLab(dir = DEFAULT_LAB_DIR, qemu = 'qemu-system-x86_64', qemuImg = 'qemu-img'): LabFiles {
  const files: LabFiles = {
    dir,
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.gz'),
    dirtier: join(dir, 'dirtier'),
    qemu: which(qemu) ?? qemu,
    qemuImg: which(qemuImg) ?? qemuImg,
  };
  const missing = [files.kernel, files.initrd, files.dirtier].filter((f) => !existsSync(f));
  if (!which(qemu)) missing.push(qemu);
  if (!which(qemuImg)) missing.push(qemuImg);
  if (missing.length > 0)
    throw new UsageError(
      `the QEMU lab is not installed (missing ${missing.join(', ')}): run bash test/setup/install-qemu.sh`,
    );
  return files;
}

/** Whether the lab is installed (for tests that must fail in CI but may skip on a laptop). */
export function labAvailable(dir = DEFAULT_LAB_DIR): boolean {
  try {
    findLab(dir);
    return true;
  } catch {
    return false;
  }
}

function which(bin: string): string | null {
  if (bin.includes('/')) return existsSync(bin) ? bin : null;
  for (const d of (process.env.PATH ?? '').split(':')) {
    const p = join(d || '.', bin);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Reject what the lab cannot run, naming the key (the simulator can run more than the lab). */
export function checkLabScenario(s: Scenario): void {
  const bad = (key: string, msg: string): never => {
    throw new UsageError(`${s.name}: ${key}: ${msg}`);
  };
  if (s.model !== 'qemu-7.2')
    bad('model', `the lab runs QEMU 7.2 (set model: qemu-7.2; got ${s.model}, whose defaults differ)`);
  if (s.workload.kind === 'replay')
    bad('workload.kind', 'the lab cannot replay a recorded run (use idle, uniform, zipf or sequential)');
  if (s.vm.memoryMiB < MIN_MEMORY_MIB)
    bad('vm.memoryMiB', `the lab guest needs at least ${MIN_MEMORY_MIB} MiB (got ${s.vm.memoryMiB})`);
  if (!Number.isInteger(s.vm.memoryMiB * 128))
    bad('vm.memoryMiB', `must be a multiple of 8 KiB (got ${s.vm.memoryMiB})`);
  if (s.workload.kind !== 'idle' && s.workload.wssMiB > s.vm.memoryMiB - KERNEL_RESERVE_MIB)
    bad(
      'workload.wssMiB',
      `the guest kernel keeps about ${KERNEL_RESERVE_MIB} MiB, so the working set must be <= ${s.vm.memoryMiB - KERNEL_RESERVE_MIB} MiB (got ${s.workload.wssMiB})`,
    );
  if (s.disk && s.disk.sizeMiB !== Math.floor(s.disk.sizeMiB))
    bad('disk.sizeMiB', `must be whole MiB in the lab (got ${s.disk.sizeMiB})`);
}

/** `-m` for QEMU: the scenario's RAM plus 8 KiB, in KiB ("NNNK"). */
export function memoryArg(s: Scenario): string {
  return `${Math.round(s.vm.memoryMiB * 1024) + RAM_EXTRA_KIB}K`;
}

/** Guest RAM in bytes as QEMU sees it (what pmemsave dumps). */
export function guestRamBytes(s: Scenario): number {
  return (Math.round(s.vm.memoryMiB * 1024) + RAM_EXTRA_KIB) * 1024;
}

/** The kernel command line: console, and the workload as lab_* knobs read by the guest's /init. */
export function guestCmdline(s: Scenario, heartbeatS = 1): string {
  // Same page counts as models/guest/from-scenario.ts, so the dirtier's page indices match the simulator's.
  const pages = Math.round(s.vm.memoryMiB * PAGES_PER_MIB);
  const wssPages = Math.min(pages, Math.round(s.workload.wssMiB * PAGES_PER_MIB));
  const w = s.workload;
  const parts = [
    'console=ttyS0',
    'quiet',
    // A fixed kernel placement: with KASLR every boot scatters the working set differently (2333 of 4096
    // pages moved between two probes), so no measured layout (trace/lab/layout.ts) could stand for a run.
    'nokaslr',
    `lab_kind=${w.kind}`,
    `lab_pages=${pages}`,
    `lab_wss_pages=${w.kind === 'idle' ? 0 : wssPages}`,
    `lab_rate=${w.dirtyRateMiBps}`,
    `lab_zipfs=${w.zipfS}`,
    `lab_seed=${s.seed >>> 0}`,
    `lab_hb=${heartbeatS}`,
  ];
  if (s.disk)
    parts.push('lab_disk=1', `lab_disk_rate=${w.diskWriteMiBps}`, `lab_disk_alloc=${s.disk.allocatedMiB}`);
  return parts.join(' ');
}

/** Migration capabilities to set on one side: `events` always, `block` on the source for disk.migrate. */
export function capabilitiesFor(
  s: Scenario,
  side: 'source' | 'destination',
): { capability: string; state: boolean }[] {
  const caps = ['events', ...s.migration.capabilities.filter((c) => side === 'source' || BOTH_SIDES.has(c))];
  if (side === 'source' && s.disk?.migrate) caps.push('block');
  return caps.map((capability) => ({ capability, state: true }));
}

/** Paths of one QEMU's files inside the run's temporary directory. */
export interface QemuFiles {
  qmp: string;
  serial: string;
  trace: string;
  stderr: string;
  disk: string | null;
}

/** The QEMU command line of one side. */
export function qemuArgs(
  s: Scenario,
  lab: LabFiles,
  f: QemuFiles,
  traceEvents: string,
  incoming: boolean,
): string[] {
  const args = [
    '-accel',
    'tcg',
    '-machine',
    'pc',
    '-m',
    memoryArg(s),
    '-smp',
    String(s.vm.vcpus),
    '-display',
    'none',
    '-no-user-config',
    '-nodefaults',
    '-kernel',
    lab.kernel,
    '-initrd',
    lab.initrd,
    '-append',
    guestCmdline(s),
    '-serial',
    `file:${f.serial}`,
    '-qmp',
    `unix:${f.qmp},server=on,wait=off`,
    '-trace',
    `events=${traceEvents},file=${f.trace}`,
    // Without it trace lines carry no timestamp (real-lab.md §3).
    '-msg',
    'timestamp=on',
  ];
  if (f.disk)
    args.push(
      '-drive',
      `file=${f.disk},format=qcow2,if=none,id=disk0`,
      '-device',
      'virtio-blk-pci,drive=disk0',
    );
  // The destination waits for migrate-incoming and stays paused after it, so its RAM can be compared.
  if (incoming) args.push('-incoming', 'defer', '-S');
  return args;
}

/** The trace events the lab enables: the migration loop without per-page events (real-lab.md §3). */
export const TRACE_EVENTS = [
  'migrate_set_state',
  'migrate_pending',
  'migrate_transferred',
  'migrate_fd_*',
  'migration_bitmap_sync_start',
  'migration_bitmap_sync_end',
  'migration_thread_*',
  'migration_rate_limit_pre',
  'migration_rate_limit_post',
  'migration_completion_*',
  'migration_throttle',
  'migration_socket_*',
  'migration_set_*_channel',
  'migration_block_init_full',
  'migration_block_save',
  'migration_block_save_complete',
  'savevm_state_setup',
  'savevm_state_iterate',
  'savevm_state_complete_precopy',
  'savevm_state_cleanup',
  'qemu_loadvm_state_post_main',
  'loadvm_state_setup',
  'loadvm_state_cleanup',
  'ram_load_complete',
];
