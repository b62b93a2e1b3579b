/**
 * The vCPU throttle of 7.2 (softmmu/cpu-throttle.c; qemu-spec.md §3.6): at p % every vCPU sleeps so that
 * it runs a duty cycle of (1 − p). The guest's workload needs `cpuShare` of a vCPU at its nominal rate, so
 * its write rate becomes rate × min(1, (1 − p) / cpuShare) (the scenario contract).
 * Differs from C: the timer that applies the throttle fires 10 ms / (1 − p) later; the model applies it
 * at once.
 */
import type { Ns } from '../../sim/time.ts';
import type { MigrationContext } from './context.ts';

/** The guest write-rate factor at throttle `pct` for a workload needing `cpuShare` of a vCPU. */
export function throttleFactor(pct: number, cpuShare: number): number {
  return Math.min(1, (1 - pct / 100) / cpuShare);
}

/** cpu_throttle_set: throttle the guest to `pct` % from `t` on. */
export function cpuThrottleSet(ctx: MigrationContext, pct: number, t: Ns): void {
  ctx.throttlePct = pct;
  ctx.mem.advanceTo(t); // writes due before the change happen at the old rate
  ctx.mem.schedule.setFactor(t, throttleFactor(pct, ctx.scn.workload.cpuShare));
}

/** cpu_throttle_stop (migration_iteration_finish): the guest runs at full speed again. */
export function cpuThrottleStop(ctx: MigrationContext, t: Ns): void {
  if (ctx.throttlePct === 0) return;
  ctx.throttlePct = 0;
  ctx.mem.advanceTo(t);
  ctx.mem.schedule.setFactor(t, 1);
}
