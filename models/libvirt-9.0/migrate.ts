/**
 * libvirt 9.0 driving a migration (qemu-spec.md §4.3), `virsh migrate --live DOMAIN qemu+ssh://dst/system`
 * (managed direct, protocol v3 with typed parameters): `virDomainMigrate3` → `virDomainMigrateVersion3Full`
 * → Begin3 → Prepare3 (the destination QEMU starts with `-incoming defer -S`, then `migrate-incoming`) →
 * Perform3 (`qemuMigrationSrcRun`: capabilities incl. pause-before-switchover, `max-bandwidth`, then
 * `getfd` + `migrate fd:migrate`, and a wait on MIGRATION events with no polling; at `pre-switchover` it
 * sends `migrate-continue`, inside the guest's downtime) → Finish3 (`cont` on the destination) → Confirm3
 * (the source QEMU is stopped). All of it is recorded as spans.
 */
import type { Span } from '@opentelemetry/api';
import type { Environment } from '../../sim/env.ts';
import { anyOf, type ProcessBody, type SimEvent } from '../../sim/events.ts';
import { LEVEL, type SpanRecorder } from '../../sim/span-recorder.ts';
import { msToNs, type Ns, S, US } from '../../sim/time.ts';
import { ATTR, EVENT, SPAN } from '../../trace/names.ts';
import type { Scenario } from '../scenario.ts';

/** RPC procedure numbers of protocol v3 with params (src/remote/remote_protocol.x). */
export const REMOTE_PROC = {
  DOMAIN_MIGRATE_BEGIN3_PARAMS: 302,
  DOMAIN_MIGRATE_PREPARE3_PARAMS: 303,
  DOMAIN_MIGRATE_PERFORM3_PARAMS: 305,
  DOMAIN_MIGRATE_FINISH3_PARAMS: 306,
  DOMAIN_MIGRATE_CONFIRM3_PARAMS: 307,
} as const;

/** The first port of libvirt's migration port range (qemu.conf migration_port_min). */
export const MIGRATION_PORT_MIN = 49152;

/** Which QEMU a QMP command goes to. */
export type QmpSide = 'source' | 'destination';

/** What libvirt 9.0 needs from the two QEMU processes. */
export interface QemuEndpoints90 {
  /** A QMP command; `run` executes in QEMU when it arrives. Succeeds at the reply, with its time. */
  qmp(side: QmpSide, name: string, parent: Span, run?: (t: Ns) => void): SimEvent<Ns>;
  /** QMP `migrate {uri}` on the source; the QEMU migration span nests under `parent`. */
  migrate(uri: string, parent: Span): SimEvent<Ns>;
  /** QMP `migrate-continue {state: "pre-switchover"}`. */
  migrateContinue(parent: Span): SimEvent<Ns>;
  /** QMP `migrate_cancel` (what `virsh domjobabort` ends in). */
  cancel(parent: Span): SimEvent<Ns>;
  /** The next source MIGRATION event, as libvirt receives it, whose status is one of `statuses`. */
  waitForStatus(statuses: readonly string[]): SimEvent<string>;
  /** When the destination has loaded the whole stream (after a completed migration). */
  destinationLoadedNs(): Ns;
  /** Multifd makes QEMU connect its own channels (`migrate tcp:`) instead of using libvirt's fd. */
  multifd: boolean;
}

/** What the management layer decided and when. */
export interface ManagementOutcome90 {
  outcome: 'completed' | 'timeout' | 'failed' | 'cancelled';
  /** When the destination guest runs (null if it never does). */
  destinationRunningNs: Ns | null;
  /** When libvirt saw the migration end (the event that ended qemuMigrationSrcWaitForCompletion). */
  detectedNs: Ns;
}

const END_STATES = ['completed', 'failed', 'cancelled'] as const;

/** `virsh migrate --live DOMAIN qemu+ssh://dst/system` under libvirt 9.0, as a process. */
export function* libvirtMigrate90(
  env: Environment,
  rec: SpanRecorder,
  scn: Scenario,
  qemu: QemuEndpoints90,
): ProcessBody<ManagementOutcome90> {
  const rttNs = msToNs(scn.network.rttMs);
  const rpcNs = msToNs(scn.libvirt.rpcOverheadMs);
  const monitorHalfNs = Math.round(scn.host.monitorRttUs * US) / 2;

  const virsh = rec.start(SPAN.virshMigrate, LEVEL.stage, undefined, { [ATTR.virshFlags]: '--live' });
  const api = rec.start(SPAN.virDomainMigrate3, LEVEL.stage, virsh);
  yield env.timeout(rttNs + rpcNs); // virConnectOpenAuth(desturi)
  const v3 = rec.start(SPAN.virDomainMigrateVersion3, LEVEL.stage, api);

  // Begin3 (RPC 302) on the source: async job MIGRATION_OUT, phase begin3, domain XML and cookie.
  const begin = rec.start(SPAN.begin3, LEVEL.stage, v3, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_BEGIN3_PARAMS,
  });
  const srcBegin = rec.start(SPAN.qemuMigrationSrcBegin, LEVEL.stage, begin, { [ATTR.jobPhase]: 'begin3' });
  yield env.timeout(rpcNs);
  rec.end(srcBegin);
  rec.end(begin);
  yield env.timeout(rpcNs); // virDomainGetState

  // Prepare3 (RPC 303) on the destination: QEMU starts with -incoming defer -S, then migrate-incoming.
  const prep = rec.start(SPAN.prepare3, LEVEL.stage, v3, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_PREPARE3_PARAMS,
  });
  yield env.timeout(rttNs / 2 + rpcNs);
  const dstPrep = rec.start(SPAN.qemuMigrationDstPrepare, LEVEL.stage, prep, { [ATTR.jobPhase]: 'prepare' });
  const launch = rec.start(SPAN.qemuProcessStart, LEVEL.stage, dstPrep);
  yield env.timeout(msToNs(scn.host.qemuStartMs));
  rec.end(launch);
  yield qemu.qmp('destination', 'migrate-set-capabilities', dstPrep); // incl. late-block-activate
  yield qemu.qmp('destination', 'migrate-set-parameters', dstPrep);
  yield qemu.qmp('destination', 'migrate-incoming', dstPrep);
  rec.end(dstPrep);
  yield env.timeout(rttNs / 2);
  rec.end(prep);

  // Perform3 (RPC 305) on the source.
  const perf = rec.start(SPAN.perform3, LEVEL.stage, v3, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_PERFORM3_PARAMS,
  });
  yield env.timeout(rpcNs);
  const phase = rec.start(SPAN.qemuMigrationSrcPerform, LEVEL.stage, perf, { [ATTR.jobPhase]: 'perform3' });
  const run = rec.start(SPAN.qemuMigrationSrcRun, LEVEL.stage, phase);
  // qemuMigrationParamsApply: max-bandwidth is always sent (≈ unlimited unless --bandwidth was given).
  yield qemu.qmp('source', 'migrate-set-capabilities', run); // events, pause-before-switchover, ...
  yield qemu.qmp('source', 'migrate-set-parameters', run);
  const uri = `tcp:dst:${MIGRATION_PORT_MIN}`;
  if (qemu.multifd) {
    yield qemu.migrate(uri, run); // --parallel: QEMU connects its channels itself
  } else {
    yield env.timeout(rttNs); // qemuMigrationSrcConnect: libvirtd opens the socket
    yield qemu.qmp('source', 'getfd', run);
    yield qemu.migrate('fd:migrate', run);
  }
  const migrateNs = env.now;

  // qemuMigrationSrcWaitForCompletion: a condition wait woken by MIGRATION events, no timeout of its own;
  // the scenario's timeout plays `virsh domjobabort`.
  const wait = rec.start(SPAN.qemuMigrationSrcWaitForCompletion, LEVEL.stage, run);
  const deadline = migrateNs + Math.round(scn.migration.timeoutS * S);
  let ev = qemu.waitForStatus(['pre-switchover', ...END_STATES]);
  yield anyOf(env, [ev, env.timeout(Math.max(0, deadline - env.now))]);
  let timedOut = false;
  if (!ev.processed) {
    timedOut = true;
    yield qemu.cancel(wait);
    yield ev;
  }
  if (ev.value === 'pre-switchover' && !timedOut) {
    // The guest is stopped. (Storage mirrors would be cancelled here; none are modelled.) Then continue.
    rec.event(wait, EVENT.migrationState, { [ATTR.state]: 'pre-switchover' });
    ev = qemu.waitForStatus(END_STATES);
    yield qemu.migrateContinue(wait);
    yield ev;
  } else if (ev.value === 'pre-switchover') {
    ev = qemu.waitForStatus(END_STATES);
    yield ev;
  }
  const status = ev.value!;
  const detected = env.now;
  const outcome: ManagementOutcome90['outcome'] =
    status === 'completed'
      ? 'completed'
      : timedOut
        ? 'timeout'
        : status === 'cancelled'
          ? 'cancelled'
          : 'failed';
  if (outcome === 'completed') yield qemu.qmp('source', 'query-migrate', wait); // final statistics
  rec.end(wait, { [ATTR.outcome]: outcome });
  rec.end(run);
  rec.end(phase);
  yield env.timeout(rpcNs); // cookie with the stop time back to the client
  rec.end(perf);

  // Finish3 (RPC 306) on the destination: wait for the incoming side, then `cont`.
  const fin = rec.start(SPAN.finish3, LEVEL.stage, v3, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_FINISH3_PARAMS,
  });
  yield env.timeout(rttNs / 2 + rpcNs);
  const dstFin = rec.start(SPAN.qemuMigrationDstFinish, LEVEL.stage, fin, { [ATTR.jobPhase]: 'finish3' });
  let running: Ns | null = null;
  if (outcome === 'completed') {
    // qemuMigrationDstWaitForCompletion: the destination's MIGRATION "completed" event.
    const seen = qemu.destinationLoadedNs() + monitorHalfNs;
    if (seen > env.now) yield env.timeout(seen - env.now);
    yield qemu.qmp('destination', 'cont', dstFin, (t) => {
      running = t;
    });
    rec.event(dstFin, EVENT.resume, undefined, running!);
  } else {
    yield qemu.qmp('destination', 'quit', dstFin); // the destination QEMU is killed
  }
  rec.end(dstFin);
  yield env.timeout(rttNs / 2);
  rec.end(fin);

  // Confirm3 (RPC 307) on the source: success stops the source QEMU; failure resumes the guest there.
  const conf = rec.start(SPAN.confirm3, LEVEL.stage, v3, {
    [ATTR.rpcProc]: REMOTE_PROC.DOMAIN_MIGRATE_CONFIRM3_PARAMS,
  });
  yield env.timeout(rpcNs);
  const srcConf = rec.start(SPAN.qemuMigrationSrcConfirm, LEVEL.stage, conf, { [ATTR.jobPhase]: 'confirm3' });
  if (outcome !== 'completed') yield qemu.qmp('source', 'cont', srcConf);
  rec.end(srcConf);
  rec.end(conf);
  rec.end(v3);
  rec.end(api);
  rec.end(virsh, { [ATTR.outcome]: outcome });
  return { outcome, destinationRunningNs: running, detectedNs: detected };
}
