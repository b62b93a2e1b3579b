/**
 * A private one-node Slurm cluster for slow tests (../shared/docs/slurm-lab.md): munged with its own key
 * and socket, slurmctld and slurmd with a config in a temp folder and free ports, stopped by the PIDs
 * they wrote. Needs root and test/setup/install-slurm.sh.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The programs a cluster needs. */
export const SLURM_PROGRAMS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo', 'scontrol'];

/** Programs missing from PATH (and /usr/sbin). */
export function missingSlurmPrograms(): string[] {
  return SLURM_PROGRAMS.filter(
    (p) =>
      spawnSync('sh', ['-c', `command -v ${p} || test -x /usr/sbin/${p}`], { stdio: 'ignore' }).status !== 0,
  );
}

/** A running cluster. */
export interface SlurmCluster {
  dir: string;
  /** Environment for Slurm clients (SLURM_CONF). */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const sbin = (p: string) => (existsSync(`/usr/sbin/${p}`) ? `/usr/sbin/${p}` : p);

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, timeoutMs: number, log: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`slurm test cluster: ${what} timed out\n${log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Start munged, slurmctld and slurmd; resolves once the node is idle. */
export async function startSlurmCluster(): Promise<SlurmCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'migscope-slurm-'));
  chmodSync(dir, 0o700);
  const host = hostname().split('.')[0]!;
  const key = join(dir, 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const sock = join(dir, 'munge.socket');
  const pids = {
    munged: join(dir, 'munged.pid'),
    slurmctld: join(dir, 'slurmctld.pid'),
    slurmd: join(dir, 'slurmd.pid'),
  };
  mkdirSync(join(dir, 'state'));
  mkdirSync(join(dir, 'spool'));
  const conf = join(dir, 'slurm.conf');
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  writeFileSync(
    conf,
    [
      'ClusterName=migscopetest',
      `SlurmctldHost=${host}`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${sock}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${pids.slurmctld}`,
      `SlurmdPidFile=${pids.slurmd}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'ReturnToService=2',
      'MpiDefault=none',
      'MailProg=/bin/true',
      'MinJobAge=600',
      `NodeName=${host} CPUs=2 State=UNKNOWN`,
      `PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const logs = () =>
    ['munged.log', 'slurmctld.log', 'slurmd.log']
      .map((f) =>
        existsSync(join(dir, f))
          ? `${f}:\n${readFileSync(join(dir, f), 'utf8').split('\n').slice(-8).join('\n')}`
          : '',
      )
      .join('\n');
  const cluster: SlurmCluster = {
    dir,
    env,
    async stop() {
      for (const name of ['slurmd', 'slurmctld', 'munged'] as const) {
        const pid = readPid(pids[name]);
        if (pid === null || !alive(pid)) continue;
        process.kill(pid, 'SIGTERM');
        const end = Date.now() + 10_000;
        while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    execFileSync(sbin('munged'), [
      '--force',
      `--socket=${sock}`,
      `--key-file=${key}`,
      `--pid-file=${pids.munged}`,
      `--log-file=${join(dir, 'munged.log')}`,
      `--seed-file=${join(dir, 'munged.seed')}`,
    ]);
    await until('munged', () => existsSync(sock), 10_000, logs);
    execFileSync(sbin('slurmctld'), ['-f', conf], { env });
    await until('slurmctld', () => readPid(pids.slurmctld) !== null, 15_000, logs);
    execFileSync(sbin('slurmd'), ['-f', conf], { env });
    await until(
      'node idle',
      () => spawnSync('sinfo', ['-h', '-o', '%T'], { env, encoding: 'utf8' }).stdout?.trim() === 'idle',
      60_000,
      logs,
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
