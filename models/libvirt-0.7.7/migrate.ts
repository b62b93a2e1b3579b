/**
 * libvirt 0.7.7 driving a migration (qemu-spec.md §4.1): virsh `cmdMigrate` → `virDomainMigrate` →
 * `virDomainMigrateVersion2` → Prepare2 (the destination QEMU starts with -incoming) → Perform
 * (`qemudDomainMigratePerform` → `doNativeMigrate` → HMP `migrate -d "tcp:host:port"`, then the
 * `info migrate` polling loop) → Finish2 (HMP `cont` on the destination). The monitor is the text (HMP)
 * monitor; polling really ran every 50 µs in 0.7.7.
 */
import type { Span } from '@opentelemetry/api';
import type { Environment } from '../../sim/env.ts';
import { anyOf, type ProcessBody, type SimEvent } from '../../sim/events.ts';
import { LEVEL, type SpanRecorder } from '../../sim/span-recorder.ts';
import { msToNs, type Ns, S, US } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import type { Scenario } from '../scenario.ts';

/** RPC procedure numbers of protocol v2 (src/remote/remote_protocol.h). */
export const REMOTE_PROC = {
  DOMAIN_MIGRATE_PERFORM: 62,
  DOMAIN_MIGRATE_PREPARE2: 108,
  DOMAIN_MIGRATE_FINISH2: 109,
} as const;

/** What libvirt needs from the two QEMU processes. */
export interface QemuEndpoints {
  /** An HMP command on the source monitor; `run` executes on its main loop. Succeeds at the reply. */
  sourceCommand(name: string, parent: Span, run?: (t: Ns) => Ns): SimEvent<Ns>;
  /** `migrate -d "tcp:host:port"`; `parent` is the span the QEMU migration nests under. */
  migrate(parent: Span): SimEvent<Ns>;
  /** `migrate_cancel`. */
  cancel(parent: Span): SimEvent<Ns>;
  /** Succeeds when the source migration leaves ACTIVE, with the time. */
  finished: SimEvent<Ns>;
  completed(): boolean;
  /** When the main-loop handler that completed the migration started. */
  completionHandlerStartNs(): Ns;
  /** When the destination has loaded the whole stream (after a completed migration). */
  destinationLoadedNs(): Ns;
}

/** What the management layer decided and when. */
export interface ManagementOutcome {
  outcome: 'completed' | 'timeout' | 'failed';
  /** When the destination guest runs (null if it never does). */
  destinationRunningNs: Ns | null;
  /** When libvirt saw the migration end. */
  detectedNs: Ns;
  polls: number;
}

/** `virsh migrate --live DOMAIN qemu+ssh://dst/system` under libvirt 0.7.7, as a process. */
export function* libvirtMigrate077(
  env: Environment,
  rec: SpanRecorder,
  scn: Scenario,
  qemu: QemuEndpoints,
): ProcessBody<ManagementOutcome> {
  const rttNs = msToNs(scn.network.rttMs);
  const rpcNs = msToNs(scn.libvirt.rpcOverheadMs);
  const monitorRttNs = Math.round(scn.host.monitorRttUs * US);
  const pollNs = Math.round(scn.libvirt.pollIntervalUs * US);

  const virsh = rec.start(SPAN.virshMigrate, LEVEL.stage, undefined, { 'virsh.flags': '--live' });
  const api = rec.start(SPAN.virDomainMigrate, LEVEL.stage, virsh);
  yield env.timeout(rttNs + rpcNs); // virConnectOpenAuth(desturi)
  const v2 = rec.start(SPAN.virDomainMigrateVersion2, LEVEL.stage, api);
  yield env.timeout(2 * rpcNs); // domainDumpXML + virDomainGetInfo on the source (local)

  // Prepare2 (RPC 108): the destination libvirtd starts QEMU with -S -incoming tcp:0.0.0.0:49152.
  const prep = rec.start(SPAN.prepare2, LEVEL.stage, v2, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_PREPARE2,
  });
  yield env.timeout(rttNs / 2 + rpcNs);
  const qprep = rec.start(SPAN.qemudDomainMigratePrepare2, LEVEL.stage, prep);
  yield env.timeout(msToNs(scn.host.qemuStartMs));
  rec.end(qprep);
  yield env.timeout(rttNs / 2);
  rec.end(prep);

  // Perform (RPC 62) on the source: "isn't supposed to return until the migration is complete".
  const perf = rec.start(SPAN.perform, LEVEL.stage, v2, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_PERFORM,
  });
  yield env.timeout(rpcNs);
  const qperf = rec.start(SPAN.qemudDomainMigratePerform, LEVEL.stage, perf);
  const native = rec.start(SPAN.doNativeMigrate, LEVEL.stage, qperf);
  const bandwidthMiB = scn.migration.maxBandwidthMiBps;
  if (bandwidthMiB !== 32) yield qemu.sourceCommand(`migrate_set_speed ${bandwidthMiB}m`, native);
  const toHost = rec.start(SPAN.qemuMonitorMigrateToHost, LEVEL.stage, native);
  yield qemu.migrate(native);
  rec.end(toHost);

  // qemuDomainWaitForMigrationComplete: `info migrate`, sleep pollInterval, again, until not active.
  const tw = env.now;
  const wait = rec.start(SPAN.qemuDomainWaitForMigrationComplete, LEVEL.stage, native);
  const deadline = tw + Math.round(scn.migration.timeoutS * S);
  yield anyOf(env, [qemu.finished, env.timeout(Math.max(0, deadline - env.now))]);
  let outcome: ManagementOutcome['outcome'] = 'completed';
  if (!qemu.finished.processed) {
    // The user's domjobabort sets jobCancel; the next poll sends migrate_cancel.
    yield qemu.cancel(wait);
    outcome = 'timeout';
  } else if (!qemu.completed()) outcome = 'failed';
  const period = pollNs + monitorRttNs;
  const tc = qemu.finished.value!;
  const detected =
    outcome === 'completed'
      ? detectCompletion(tw, period, monitorRttNs, qemu.completionHandlerStartNs(), tc)
      : env.now;
  if (detected > env.now) yield env.timeout(detected - env.now);
  const polls = Math.floor((detected - tw) / period) + 1;
  rec.event(wait, EVENT.poll, { [ATTR.polls]: polls });
  rec.end(wait, { [ATTR.polls]: polls, [ATTR.outcome]: outcome });
  rec.end(native);
  rec.end(qperf); // on success qemudShutdownVMDaemon kills the source QEMU here
  yield env.timeout(rpcNs);
  rec.end(perf);

  // Finish2 (RPC 109) on the destination: `cont` if Perform succeeded, else kill the destination QEMU.
  const fin = rec.start(SPAN.finish2, LEVEL.stage, v2, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_FINISH2,
  });
  yield env.timeout(rttNs / 2 + rpcNs);
  const qfin = rec.start(SPAN.qemudDomainMigrateFinish2, LEVEL.stage, fin);
  let running: Ns | null = null;
  if (outcome === 'completed') {
    // The destination's main loop is busy in qemu_loadvm_state until the stream is loaded; `cont` waits.
    const cont = rec.start(SPAN.monitorCommand, LEVEL.stage, qfin, { [ATTR.monitorCommand]: 'cont' });
    const served = Math.max(env.now + monitorRttNs / 2, qemu.destinationLoadedNs());
    running = served;
    yield env.timeout(served + monitorRttNs / 2 - env.now);
    rec.event(cont, EVENT.resume, undefined, served);
    rec.end(cont);
  }
  rec.end(qfin);
  yield env.timeout(rttNs / 2);
  rec.end(fin);
  rec.end(v2);
  rec.end(api);
  rec.end(virsh, { [ATTR.outcome]: outcome });
  return { outcome, destinationRunningNs: running, detectedNs: detected, polls };
}

/**
 * When libvirt's poll loop sees "completed". Polls leave at tw + j·period and reach QEMU half a round trip
 * later; one that arrives while the main loop is busy with the completing handler [tb, tc) is served at tc.
 */
export function detectCompletion(tw: Ns, period: Ns, monitorRttNs: Ns, tb: Ns, tc: Ns): Ns {
  const half = monitorRttNs / 2;
  const j0 = Math.max(0, Math.ceil((tb - tw - half) / period));
  const arrival = tw + j0 * period + half;
  return arrival < tc ? tc + half : arrival + half;
}
