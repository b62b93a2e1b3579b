/**
 * `npx tsx trace/libvirt-lab/main.ts [--out DIR] [--memory MiB] [--bandwidth MiB/s] [--keep]`: one real
 * `virsh migrate --live` between two SASL-protected libvirtd daemons in network namespaces (run.ts), as
 * DIR/result.json, DIR/trace.otlp.jsonl, DIR/trace.perfetto.json and DIR/logs/. Needs root and
 * `bash test/setup/install-qemu.sh && bash test/setup/install-libvirt.sh`. Exit 0 when the migration
 * completed and nothing was left behind, 1 otherwise, 2 when something is not installed.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../../sim/errors.ts';
import { runLibvirtLab } from './run.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'out/libvirt-lab' },
    memory: { type: 'string' },
    bandwidth: { type: 'string' },
    seed: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
try {
  const run = await runLibvirtLab({
    outDir: values.out!,
    memoryMiB: num(values.memory),
    bandwidthMiBps: num(values.bandwidth),
    seed: num(values.seed),
    keepWorkdir: values.keep,
    onProgress: (l) => console.error(l),
  });
  const r = run.result;
  console.log(
    [
      `outcome: ${r.outcome}${r.error ? ` (${r.error})` : ''}`,
      `virsh migrate: ${r.migrate.wallMs} ms; libvirt job ${r.job.destination?.['Time elapsed'] ?? '?'} ms, ${r.job.destination?.Iteration ?? '?'} iterations`,
      `downtime: libvirt ${r.downtime.libvirtMs} ms, QEMU ${r.downtime.qemuMs ?? 'n/a (query-migrate raced QEMU)'} ms, ` +
        `QEMU trace ${r.downtime.qemuTraceMs} ms, STOP->RESUME ${r.downtime.stopToResumeMs} ms`,
      `auth: ${r.auth.mechanism} as ${r.auth.identities.join(',')}; raw RPC refused: ${r.auth.refused.rawRpc.message}; no credentials: ${r.auth.refused.noCredentials.error}; wrong password: ${r.auth.refused.wrongPassword.error}`,
      `trace: ${r.trace.spans} spans (${r.trace.monitorCommands} monitor commands) -> ${run.files.otlp}`,
      `cleanup: ${r.cleanup.clean ? 'nothing left behind' : JSON.stringify(r.cleanup.leftovers)}`,
    ].join('\n'),
  );
  process.exitCode = r.outcome === 'completed' && r.cleanup.clean ? 0 : 1;
} catch (err) {
  console.error(`libvirt lab: ${(err as Error).message}`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
}
