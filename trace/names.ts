/**
 * Every span name and attribute key migscope writes, shared by the simulator and the real-stack tracer so
 * that their traces line up (../shared/docs/qemu-spec.md §5). A leaf module: it imports nothing.
 */

/** Span names: `<layer>.<what the source calls it>`. */
export const SPAN = {
  // virsh and the libvirt client library
  virshMigrate: 'virsh.migrate', // cmdMigrate
  virDomainMigrate: 'libvirt.virDomainMigrate',
  virDomainMigrateVersion2: 'libvirt.virDomainMigrateVersion2',
  virDomainMigrateToURI3: 'libvirt.virDomainMigrateToURI3',
  virDomainMigrateVersion3: 'libvirt.virDomainMigrateVersion3Full',
  virDomainMigrate3: 'libvirt.virDomainMigrate3',
  // libvirt RPC calls, client side (protocol v2 in 0.7.7, v3 in 9.0)
  prepare2: 'libvirt.Prepare2',
  perform: 'libvirt.Perform',
  finish2: 'libvirt.Finish2',
  begin3: 'libvirt.Begin3',
  prepare3: 'libvirt.Prepare3',
  perform3: 'libvirt.Perform3',
  finish3: 'libvirt.Finish3',
  confirm3: 'libvirt.Confirm3',
  // libvirtd's qemu driver
  qemudDomainMigratePrepare2: 'libvirtd.qemudDomainMigratePrepare2',
  qemudDomainMigratePerform: 'libvirtd.qemudDomainMigratePerform',
  doNativeMigrate: 'libvirtd.doNativeMigrate',
  qemuMonitorMigrateToHost: 'libvirtd.qemuMonitorMigrateToHost',
  qemuDomainWaitForMigrationComplete: 'libvirtd.qemuDomainWaitForMigrationComplete',
  qemudDomainMigrateFinish2: 'libvirtd.qemudDomainMigrateFinish2',
  qemuMigrationSrcBegin: 'libvirtd.qemuMigrationSrcBeginPhase',
  qemuMigrationSrcPerform: 'libvirtd.qemuMigrationSrcPerformPhase',
  qemuMigrationSrcRun: 'libvirtd.qemuMigrationSrcRun',
  qemuMigrationSrcWaitForCompletion: 'libvirtd.qemuMigrationSrcWaitForCompletion',
  qemuMigrationDstPrepare: 'libvirtd.qemuMigrationDstPrepareFresh',
  qemuMigrationDstFinish: 'libvirtd.qemuMigrationDstFinish',
  qemuMigrationSrcConfirm: 'libvirtd.qemuMigrationSrcConfirmPhase',
  qemuProcessStart: 'libvirtd.qemuProcessLaunch',
  qemuMigrationSrcPerformPeer2Peer: 'libvirtd.qemuMigrationSrcPerformPeer2Peer3', // p2p: the source daemon drives
  /** A monitor command (HMP in 0.7.7, QMP in 9.0); attribute `monitor.command` names it. */
  monitorCommand: 'monitor.command',
  // QEMU, source side
  migration: 'qemu.migration',
  setup: 'qemu.migration.setup',
  iteration: 'qemu.migration.iteration',
  pass: 'qemu.migration.pass',
  dirtySync: 'qemu.migration.dirty_sync',
  window: 'qemu.migration.window',
  rateLimitedSleep: 'qemu.migration.rate_limited_sleep',
  frozen: 'qemu.migration.frozen',
  ramSave: 'qemu.ram.save',
  blockSave: 'qemu.block.save',
  downtime: 'qemu.migration.downtime',
  complete: 'qemu.migration.complete',
  deviceState: 'qemu.migration.device_state',
  drain: 'qemu.migration.drain',
  preSwitchoverWait: 'qemu.migration.pre_switchover_wait',
  multifdSync: 'qemu.migration.multifd.sync',
  // QEMU, destination side
  incoming: 'qemu.incoming',
  // Continuous replication (checkpointing, qemu-spec.md §6; models/replication)
  replication: 'qemu.replication',
  replicationInitialSync: 'qemu.replication.initial_sync', // the full synchronisation (pre-copy) before epochs
  replicationEpoch: 'qemu.replication.epoch', // one epoch: the guest runs, then a checkpoint
  replicationRun: 'qemu.replication.run', // the guest runs and dirties pages
  replicationCheckpoint: 'qemu.replication.checkpoint', // guest paused: vm_stop to resume
  replicationCheckpointSend: 'qemu.replication.checkpoint_send', // dirty pages + device state on the wire
  replicationAckWait: 'qemu.replication.ack_wait', // last byte written to the standby's ack
  // The real-migration lab only (trace/lab): steps around the migration that the simulator does not model
  labBoot: 'lab.boot', // QEMU spawn to the guest workload running
  labRamCompare: 'lab.ram_compare', // pmemsave of both sides, compared page by page
  labDiskCompare: 'lab.disk_compare', // qemu-img compare of both images
} as const;

/** Span event names (points in time inside a span). */
export const EVENT = {
  switchoverDecision: 'qemu.migration.switchover_decision',
  throttleStep: 'qemu.migration.throttle_step',
  migrationState: 'qemu.migration.state',
  stop: 'qemu.vm.stop',
  resume: 'qemu.vm.resume',
  freeze: 'qemu.buffered_file.freeze',
  unfreeze: 'qemu.buffered_file.unfreeze',
  poll: 'libvirt.poll',
  checkpointAck: 'qemu.replication.ack', // the standby acknowledged (committed) a checkpoint
  outputRelease: 'qemu.replication.output_release', // buffered network output released
  // The real-stack tracer (trace/proxy, trace/import/libvirt-log.ts)
  qmpEvent: 'qmp.event', // any other QMP event; attribute `qmp.event.name` names it
  migrationPass: 'qemu.migration.pass_start', // QMP MIGRATION_PASS
} as const;

/** Attribute keys. `migscope.*` are quantities migscope computes; the rest mirror the source's names. */
export const ATTR = {
  source: 'migscope.source', // "sim" | "real"
  model: 'migscope.model',
  scenario: 'migscope.scenario',
  seed: 'migscope.seed',
  outcome: 'migscope.outcome',
  bytes: 'migscope.bytes', // wire bytes produced inside the span (flamegraphs weight by it)
  bytesDrained: 'migscope.bytes_drained', // bytes produced earlier and pushed to the socket inside the span
  bytesRam: 'migscope.bytes.ram',
  bytesBlock: 'migscope.bytes.block',
  pagesNormal: 'migscope.pages.normal',
  pagesUniform: 'migscope.pages.uniform',
  pagesSent: 'migscope.pages_sent',
  dirtyPages: 'migscope.dirty_pages', // newly dirty pages found by a bitmap sync
  remainingPages: 'migscope.remaining_pages',
  bandwidthEstimate: 'migscope.bandwidth_estimate', // bytes/s, as the model computes it
  expectedDowntimeMs: 'migscope.expected_downtime_ms',
  thresholdBytes: 'migscope.threshold_bytes',
  pendingBytes: 'migscope.pending_bytes',
  converged: 'migscope.converged',
  stage: 'qemu.savevm.stage',
  iteration: 'migscope.iteration',
  pass: 'qemu.migration.pass',
  section: 'qemu.savevm.section',
  xferLimit: 'qemu.buffered_file.xfer_limit',
  bytesXfer: 'qemu.buffered_file.bytes_xfer',
  throttlePercent: 'qemu.cpu_throttle_percentage',
  state: 'qemu.migration.status',
  uri: 'qemu.migration.uri',
  capabilities: 'qemu.migration.capabilities',
  maxBandwidth: 'qemu.migration.max_bandwidth', // bytes/s; 0 = unlimited
  downtimeLimitMs: 'qemu.migration.downtime_limit',
  jobPhase: 'libvirt.job.phase',
  monitorCommand: 'monitor.command',
  monitorSide: 'monitor.side', // "source" | "destination"
  monitorReply: 'monitor.reply',
  polls: 'libvirt.polls',
  virshFlags: 'virsh.flags',
  rpcProc: 'libvirt.rpc.proc',
  rpcSerial: 'libvirt.rpc.serial', // the RPC's serial number (per client connection)
  blockChunks: 'migscope.block.chunks',
  blockDirtyChunks: 'migscope.block.dirty_chunks',
  // real-migration lab (trace/lab)
  labRole: 'lab.qemu.role', // "source" | "destination"
  labPid: 'process.pid',
  monitorOk: 'monitor.ok',
  labPages: 'lab.ram.pages',
  labDifferingPages: 'lab.ram.differing_pages',
  labDiskIdentical: 'lab.disk.identical',
  labDifferingChunks: 'lab.disk.differing_chunks',
  sleepMs: 'qemu.migration.rate_limit_sleep_ms',
  // continuous replication (models/replication)
  epoch: 'migscope.replication.epoch', // checkpoint index (0 = the initial synchronisation's stop-and-copy)
  epochMs: 'qemu.replication.epoch_ms', // x-checkpoint-delay / xl remus -i
  outputBuffering: 'migscope.replication.output_buffering',
  pauseMs: 'migscope.replication.pause_ms',
  heldPackets: 'migscope.replication.held_packets', // guest packets released at this checkpoint's ack
  // real-stack tracer (trace/proxy, trace/import/libvirt-log.ts, trace/merge.ts)
  monitorId: 'monitor.id', // the QMP command id, e.g. "libvirt-417"
  monitorArguments: 'monitor.arguments', // the command's arguments as JSON, cut to 256 characters
  monitorError: 'monitor.error', // QMP error class: desc
  qmpEventName: 'qmp.event.name',
  qmpEventData: 'qmp.event.data', // the event's data as JSON, cut to 256 characters
  qemuVersion: 'qemu.version',
  traceSource: 'migscope.trace_source', // "libvirt-log" | "qmp-proxy" | "lab" | "qemu-trace"
  process: 'migscope.process', // "libvirtd (source)", "qemu (destination)", ...: one track group per process
  threadId: 'thread.id', // OpenTelemetry semantic convention
  codeFunction: 'code.function', // the libvirt function that logged the span's first line
  codeLine: 'code.lineno',
  inferred: 'migscope.inferred', // true when a boundary is inferred (the log has no line for it)
} as const;

/** The OpenTelemetry service name of each layer (resource attribute `service.name`). */
export const SERVICE = {
  sim: 'migscope-sim',
  real: 'migscope-real',
} as const;
