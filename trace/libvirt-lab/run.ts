/**
 * The libvirt lab, for real (real-lab.md §4): two libvirtd 9.0 daemons on this one host, each in its own
 * network, mount and UTS namespace (setup.sh), listening on TCP with SASL (DIGEST-MD5; a user added with
 * saslpasswd2), and a real `virsh migrate --live` of the lab's TCG guest from one to the other. The run
 * checks that an unauthenticated connection is refused (a raw RPC without authentication, virsh without
 * credentials, virsh with a wrong password) and that the SASL user gets in, migrates, checks that the
 * destination domain runs (and that its guest keeps writing after the switchover), always tears everything
 * down (teardown.sh: domains, QEMUs, daemons, namespaces, veth, files; then verifies nothing is left), and
 * turns virsh's client log, both daemons' debug logs and both QEMUs' trace-event logs into one trace
 * (trace.ts): OUT/trace.otlp.jsonl, OUT/trace.perfetto.json, OUT/result.json and the raw logs in OUT/logs/.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../sim/errors.ts';
import { writeTrace } from '../command.ts';
import { parseLibvirtLog } from '../import/libvirt-log.ts';
import { DEFAULT_LAB_DIR, RAM_EXTRA_KIB, TRACE_EVENTS } from '../lab/guest.ts';
import { SPAN } from '../names.ts';
import { buildLabTrace } from './trace.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const SETUP_SCRIPT = join(HERE, 'setup.sh');
export const TEARDOWN_SCRIPT = join(HERE, 'teardown.sh');

/** Options of `runLibvirtLab`. */
export interface LibvirtLabOptions {
  /** Where result.json, trace.otlp.jsonl, trace.perfetto.json and logs/ go (created). */
  outDir: string;
  /** The built guest (vmlinuz, initrd.gz): test/setup/install-qemu.sh. */
  labDir?: string;
  /** Guest RAM in MiB (libvirt's <memory>; the emulator wrapper adds 8 KiB). Default 128. */
  memoryMiB?: number;
  /** The guest dirtier's working set (MiB) and rate (MiB/s). Default 24 and 8. */
  wssMiB?: number;
  dirtyRateMiBps?: number;
  /** `virsh migrate --bandwidth` in MiB/s. Default 64. */
  bandwidthMiBps?: number;
  /** Give up on `virsh migrate` after this long (SIGINT: virsh aborts the job). Default 120. */
  migrateTimeoutS?: number;
  /** Seed of the trace and span ids. */
  seed?: number;
  /** Keep the lab's work directory (under /tmp) instead of removing it. */
  keepWorkdir?: boolean;
  /** Progress lines ("[12.3 s] ..."). */
  onProgress?: (line: string) => void;
}

/** One `virsh` (or other command) run. */
export interface CommandRun {
  argv: string[];
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  startUs: number;
  endUs: number;
  pid: number | null;
}

/** `virsh domjobinfo --completed`, as numbers where it gives them. */
export type JobInfo = Record<string, number | string>;

/** What the lab checked and measured (result.json). */
export interface LibvirtLabResult {
  kind: 'migscope-libvirt-lab';
  version: 1;
  /** completed: virsh migrate succeeded and the destination domain runs. */
  outcome: 'completed' | 'failed';
  error: string | null;
  versions: { libvirt: string; qemu: string };
  lab: {
    namespaces: [string, string];
    addresses: [string, string];
    tcpPort: number;
    sourceUri: string;
    destinationUri: string;
    /** Where virsh ran (the source's loopback is 127.0.0.1 inside this namespace). */
    clientNamespace: string;
  };
  auth: {
    mechanism: string | null;
    user: string;
    /** The SASL user connected to both daemons. */
    authenticated: { source: boolean; destination: boolean };
    /** Unauthenticated / wrongly authenticated connections, each expected to be refused. */
    refused: {
      /** A raw RPC (CONNECT_OPEN) without authenticating: the daemon's error reply. */
      rawRpc: { refused: boolean; message: string | null };
      /** virsh with an empty auth file and no terminal: it has no name or password to answer SASL with. */
      noCredentials: { refused: boolean; error: string };
      /** virsh with the SASL user and a wrong password: the daemon fails the DIGEST-MD5 step. */
      wrongPassword: { refused: boolean; error: string };
    };
    /** RPC_SERVER_CLIENT_AUTH_ALLOW / _FAIL lines in the source daemon's log. */
    daemonAllow: number;
    daemonFail: number;
    /** Calls the source daemon rejected with "authentication required" (the raw RPC). */
    daemonUnauthenticatedCalls: number;
    identities: string[];
    /** The SSF libvirt negotiated (it demands >= 56 on a TCP socket without TLS). */
    ssf: number | null;
  };
  guest: {
    memoryMiB: number;
    /** What QEMU got (the wrapper's +8 KiB, real-lab.md §2.6). */
    qemuMemory: string | null;
    wssMiB: number;
    dirtyRateMiBps: number;
    bootMs: number | null;
  };
  migrate: {
    argv: string[];
    bandwidthMiBps: number;
    exitCode: number | null;
    wallMs: number;
    stderr: string;
  };
  /** `virsh domjobinfo --completed` on each side. */
  job: { source: JobInfo | null; destination: JobInfo | null };
  /**
   * QEMU's own figures: the source's last query-migrate reply (status completed) in the libvirt log.
   * QEMU 7.2 sends MIGRATION "completed" before it computes total-time and downtime
   * (migration_calculate_complete runs later, in migration_iteration_finish; moved before the event
   * upstream by "migration: Fix qmp_query_migrate mbps value", 2024), and libvirt queries at once, so in
   * some runs the reply says total-time 0 and downtime 0: then `raced` is true and the figures are null.
   */
  qemu: {
    raced: boolean;
    totalTimeMs: number | null;
    setupTimeMs: number | null;
    downtimeMs: number | null;
    transferredBytes: number | null;
    dirtySyncCount: number | null;
    mbps: number | null;
  };
  downtime: {
    /** libvirt's "Total downtime" (destination; libvirt computes it from the cookie's stop time). */
    libvirtMs: number | null;
    /** QEMU's query-migrate `downtime` (source: VM stop to migration completed). */
    qemuMs: number | null;
    /** Source QMP STOP event to destination QMP RESUME event (QEMU's µs timestamps; same host clock). */
    stopToResumeMs: number | null;
    /** The source QEMU's trace log: migration_completion_vm_stop to the completed state (qemu.migration.complete). */
    qemuTraceMs: number | null;
  };
  destination: {
    state: string;
    /** LAB_HB heartbeat lines the guest printed on the destination after the switchover. */
    heartbeats: number;
    panic: boolean;
  };
  source: { state: string };
  trace: {
    spans: number;
    monitorCommands: number;
    qemuTraceRecords: { source: number; destination: number };
    notes: string[];
  };
  /** Wall-clock steps, µs since the epoch. */
  steps: { name: string; startUs: number; endUs: number }[];
  cleanup: {
    clean: boolean;
    leftovers: {
      processes: number[];
      namespaces: string[];
      links: string[];
      mounts: string[];
      workdir: boolean;
    };
    teardownOutput: string;
  };
}

/** A finished run. */
export interface LibvirtLabRun {
  result: LibvirtLabResult;
  files: { result: string; otlp: string; perfetto: string; logs: string };
}

/** The lab's state file (setup.sh's state.env). */
interface LabState {
  W: string;
  NS1: string;
  NS2: string;
  VETH1: string;
  VETH2: string;
  ADDR1: string;
  ADDR2: string;
  PORT: string;
  SASL_USER: string;
  SASL_PASSWORD: string;
  AUTH_FILE: string;
  SRC_URI: string;
  DST_URI: string;
  PID1?: string;
  PID2?: string;
}

const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** What is missing to run the lab (empty: ready). */
export function libvirtLabMissing(labDir = DEFAULT_LAB_DIR): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (ip netns, unshare --mount --uts)');
  for (const bin of ['libvirtd', 'virsh', 'saslpasswd2', 'ip', 'unshare', 'qemu-system-x86_64'])
    if (!onPath(bin)) missing.push(bin);
  for (const f of ['vmlinuz', 'initrd.gz']) if (!existsSync(join(labDir, f))) missing.push(join(labDir, f));
  if (!existsSync('/usr/lib/x86_64-linux-gnu/sasl2/libdigestmd5.so')) missing.push('SASL DIGEST-MD5 plugin');
  for (const d of [
    '/etc/libvirt',
    '/run/libvirt',
    '/var/lib/libvirt',
    '/var/log/libvirt',
    '/var/cache/libvirt',
  ])
    if (!existsSync(d)) missing.push(d);
  if (spawnSync('getent', ['passwd', 'libvirt-qemu']).status !== 0) missing.push('user libvirt-qemu');
  return missing;
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((d) => d && existsSync(join(d, bin)));
}

/** Run a command to its end (or `timeoutMs`, then SIGINT and after 5 s SIGKILL, by its PID). */
export function runCommand(
  argv: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<CommandRun> {
  return new Promise((resolve) => {
    const startUs = nowUs();
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timers: NodeJS.Timeout[] = [];
    if (opts.timeoutMs)
      timers.push(
        setTimeout(() => {
          child.kill('SIGINT');
          timers.push(setTimeout(() => child.kill('SIGKILL'), 5000));
        }, opts.timeoutMs),
      );
    const done = (code: number | null, signal: string | null, err?: Error) => {
      for (const t of timers) clearTimeout(t);
      resolve({
        argv,
        code,
        signal,
        stdout,
        stderr: err ? `${stderr}${err.message}` : stderr,
        startUs,
        endUs: nowUs(),
        pid: child.pid ?? null,
      });
    };
    child.on('error', (err) => done(null, null, err));
    child.on('close', (code, signal) => done(code, signal));
  });
}

// Runs that have not been torn down yet: torn down at process exit (a crash must not leave daemons).
const active = new Set<string>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const all = () => {
    for (const w of active) spawnSync('bash', [TEARDOWN_SCRIPT, w], { stdio: 'ignore', timeout: 30_000 });
    active.clear();
  };
  process.on('exit', all);
  for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
    const onSignal = () => {
      all();
      if (process.listenerCount(sig) === 1) {
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function readState(w: string): LabState {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(w, 'state.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)='(.*)'$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out as unknown as LabState;
}

/** `Key: value unit` lines of `virsh domjobinfo` (numbers where the value is one). */
export function parseJobInfo(text: string): JobInfo {
  const out: JobInfo = {};
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    const v = m[2]!;
    const num = /^(-?[\d.]+)(\s|$)/.exec(v);
    out[m[1]!.trim()] = num ? Number(num[1]) : v;
  }
  return out;
}

/** QEMU's figures before any query-migrate reply was seen. */
function noQemuFigures(): LibvirtLabResult['qemu'] {
  return {
    raced: false,
    totalTimeMs: null,
    setupTimeMs: null,
    downtimeMs: null,
    transferredBytes: null,
    dirtySyncCount: null,
    mbps: null,
  };
}

/** The source's last completed query-migrate reply and the STOP/RESUME event times, from the daemon logs. */
export function qemuFigures(
  sourceLog: string,
  destinationLog: string,
  fromUs: number,
): { qemu: LibvirtLabResult['qemu']; stopUs: number | null; resumeUs: number | null } {
  const qemu = noQemuFigures();
  let stopUs: number | null = null;
  let resumeUs: number | null = null;
  const json = (msg: string, prefix: string): Record<string, unknown> | null => {
    const m = new RegExp(`^QEMU_MONITOR_${prefix}: mon=\\S+ (?:reply|event)=(.*)`).exec(msg.split('\n')[0]!);
    if (!m) return null;
    try {
      return JSON.parse(m[1]!.replace(/\r$/, '').trim()) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  const ts = (ev: Record<string, unknown>) => {
    const t = ev.timestamp as { seconds: number; microseconds: number } | undefined;
    return t ? t.seconds * 1e6 + t.microseconds : null;
  };
  for (const e of parseLibvirtLog(sourceLog, { side: 'source' }).entries) {
    if (e.tUs < fromUs) continue;
    const reply = json(e.msg, 'RECV_REPLY');
    const ret = reply?.return as Record<string, unknown> | undefined;
    if (ret && ret.status === 'completed' && typeof ret['total-time'] === 'number') {
      const ram = (ret.ram ?? {}) as Record<string, number>;
      qemu.raced = ret['total-time'] === 0;
      qemu.totalTimeMs = qemu.raced ? null : (ret['total-time'] as number);
      qemu.setupTimeMs = (ret['setup-time'] as number) ?? null;
      qemu.downtimeMs = qemu.raced ? null : ((ret.downtime as number) ?? null);
      qemu.transferredBytes = ram.transferred ?? null;
      qemu.dirtySyncCount = ram['dirty-sync-count'] ?? null;
      qemu.mbps = ram.mbps ?? null;
    }
    const ev = json(e.msg, 'RECV_EVENT');
    if (ev?.event === 'STOP' && stopUs === null) stopUs = ts(ev);
  }
  for (const e of parseLibvirtLog(destinationLog, { side: 'destination' }).entries) {
    if (e.tUs < fromUs) continue;
    const ev = json(e.msg, 'RECV_EVENT');
    if (ev?.event === 'RESUME' && resumeUs === null) resumeUs = ts(ev);
  }
  return { qemu, stopUs, resumeUs };
}

/**
 * A raw libvirt RPC CONNECT_OPEN (program 0x20008086, procedure 1) sent without authenticating, run with
 * `ip netns exec` so it reaches the daemon's loopback. Prints the reply's status and error message as JSON.
 */
const RAW_RPC_SCRIPT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const s = net.connect(Number(port), host);
const words = [0x20008086, 1, 1, 0, 1, 0, 0, 0];
const msg = Buffer.alloc(4 + words.length * 4);
msg.writeUInt32BE(msg.length, 0);
words.forEach((w, i) => msg.writeUInt32BE(w, 4 + i * 4));
let got = Buffer.alloc(0);
const done = (err) => {
  let out = { status: null, message: null, error: err || null };
  if (got.length >= 28) {
    out.status = got.readUInt32BE(24);
    if (out.status === 1 && got.length >= 44 && got.readUInt32BE(36) === 1) {
      const n = got.readUInt32BE(40);
      out.message = got.subarray(44, 44 + n).toString('utf8');
    }
  }
  process.stdout.write(JSON.stringify(out));
  s.destroy();
  process.exit(0);
};
s.on('connect', () => s.write(msg));
s.on('data', (d) => { got = Buffer.concat([got, d]); if (got.length >= 4 && got.length >= got.readUInt32BE(0)) done(); });
s.on('error', (e) => done(String(e.message)));
setTimeout(() => done('timeout'), 5000);
`;

/** Run the lab once (see the module comment). Throws UsageError when something is not installed. */
export async function runLibvirtLab(opts: LibvirtLabOptions): Promise<LibvirtLabRun> {
  const labDir = opts.labDir ?? DEFAULT_LAB_DIR;
  const missing = libvirtLabMissing(labDir);
  if (missing.length > 0)
    throw new UsageError(
      `the libvirt lab is not installed (missing ${missing.join(', ')}): run bash test/setup/install-qemu.sh and bash test/setup/install-libvirt.sh`,
    );
  const memoryMiB = opts.memoryMiB ?? 128;
  const wssMiB = opts.wssMiB ?? 24;
  const dirtyRateMiBps = opts.dirtyRateMiBps ?? 8;
  const bandwidthMiBps = opts.bandwidthMiBps ?? 64;
  const t0 = nowUs();
  const progress = (s: string) => opts.onProgress?.(`[${((nowUs() - t0) / 1e6).toFixed(1)} s] ${s}`);
  const steps: LibvirtLabResult['steps'] = [];
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const startUs = nowUs();
    progress(name);
    try {
      return await f();
    } finally {
      steps.push({ name, startUs, endUs: nowUs() });
    }
  };

  mkdirSync(opts.outDir, { recursive: true });
  const logsDir = join(opts.outDir, 'logs');
  rmSync(logsDir, { recursive: true, force: true });
  mkdirSync(logsDir, { recursive: true });
  const w = mkdtempSync(join(tmpdir(), 'migscope-libvirt-'));
  hookExit();
  active.add(w);

  const result: LibvirtLabResult = {
    kind: 'migscope-libvirt-lab',
    version: 1,
    outcome: 'failed',
    error: null,
    versions: {
      libvirt: firstLine(spawnSync('libvirtd', ['--version'], { encoding: 'utf8' }).stdout),
      qemu: firstLine(spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout),
    },
    lab: {
      namespaces: ['', ''],
      addresses: ['', ''],
      tcpPort: 0,
      sourceUri: '',
      destinationUri: '',
      clientNamespace: '',
    },
    auth: {
      mechanism: null,
      user: '',
      authenticated: { source: false, destination: false },
      refused: {
        rawRpc: { refused: false, message: null },
        noCredentials: { refused: false, error: '' },
        wrongPassword: { refused: false, error: '' },
      },
      daemonAllow: 0,
      daemonFail: 0,
      daemonUnauthenticatedCalls: 0,
      identities: [],
      ssf: null,
    },
    guest: { memoryMiB, qemuMemory: null, wssMiB, dirtyRateMiBps, bootMs: null },
    migrate: { argv: [], bandwidthMiBps, exitCode: null, wallMs: 0, stderr: '' },
    job: { source: null, destination: null },
    qemu: noQemuFigures(),
    downtime: { libvirtMs: null, qemuMs: null, stopToResumeMs: null, qemuTraceMs: null },
    destination: { state: '', heartbeats: 0, panic: false },
    source: { state: '' },
    trace: { spans: 0, monitorCommands: 0, qemuTraceRecords: { source: 0, destination: 0 }, notes: [] },
    steps,
    cleanup: {
      clean: false,
      leftovers: { processes: [], namespaces: [], links: [], mounts: [], workdir: false },
      teardownOutput: '',
    },
  };
  let st: LabState | null = null;
  let migrateRun: CommandRun | null = null;
  let ourPids: number[] = [];
  try {
    const setup = await step('setup: namespaces, veth, two libvirtd with TCP + SASL', () =>
      runCommand(['bash', SETUP_SCRIPT, w], {
        timeoutMs: 60_000,
        env: {
          ...process.env,
          LV_LAB_DIR: labDir,
          LV_MEM_MIB: String(memoryMiB),
          LV_WSS_MIB: String(wssMiB),
          LV_DIRTY_RATE: String(dirtyRateMiBps),
          LV_RAM_EXTRA_KIB: String(RAM_EXTRA_KIB),
          LV_TRACE_EVENTS: TRACE_EVENTS.join(','),
        },
      }),
    );
    if (existsSync(join(w, 'state.env'))) st = readState(w);
    if (setup.code !== 0 || !st)
      throw new Error(`setup.sh failed (exit ${setup.code}): ${(setup.stderr || setup.stdout).trim()}`);
    const s = st;
    result.lab = {
      namespaces: [s.NS1, s.NS2],
      addresses: [s.ADDR1, s.ADDR2],
      tcpPort: Number(s.PORT),
      sourceUri: s.SRC_URI,
      destinationUri: s.DST_URI,
      clientNamespace: s.NS1,
    };
    result.auth.user = s.SASL_USER;
    const xdg = join(w, 'client', 'xdg');
    mkdirSync(xdg, { recursive: true });
    writeFileSync(join(w, 'client', 'none.conf'), '');
    writeFileSync(
      join(w, 'client', 'wrong.conf'),
      readFileSync(s.AUTH_FILE, 'utf8').replace(/^password=.*$/m, 'password=not-the-password'),
    );
    const virsh = (args: string[], o: { auth?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}) =>
      runCommand(['ip', 'netns', 'exec', s.NS1, 'virsh', ...args], {
        timeoutMs: o.timeoutMs ?? 60_000,
        env: {
          PATH: process.env.PATH,
          XDG_CONFIG_HOME: xdg,
          HOME: join(w, 'client'),
          LIBVIRT_AUTH_FILE: o.auth ?? s.AUTH_FILE,
          ...o.env,
        },
      });

    // --- authentication ---------------------------------------------------------------------------
    await step('auth: unauthenticated connections are refused, the SASL user gets in', async () => {
      const raw = await runCommand(
        ['ip', 'netns', 'exec', s.NS1, process.execPath, '-e', RAW_RPC_SCRIPT, '127.0.0.1', s.PORT],
        { timeoutMs: 15_000 },
      );
      try {
        const r = JSON.parse(raw.stdout) as { status: number | null; message: string | null };
        result.auth.refused.rawRpc = { refused: r.status === 1, message: r.message };
      } catch {
        result.auth.refused.rawRpc = { refused: false, message: `no reply: ${raw.stderr.trim()}` };
      }
      const none = await virsh(['-c', s.SRC_URI, 'uri'], { auth: join(w, 'client', 'none.conf') });
      result.auth.refused.noCredentials = { refused: none.code !== 0, error: errorLine(none.stderr) };
      const wrong = await virsh(['-c', s.SRC_URI, 'uri'], { auth: join(w, 'client', 'wrong.conf') });
      result.auth.refused.wrongPassword = { refused: wrong.code !== 0, error: errorLine(wrong.stderr) };
      const [a, b] = await Promise.all([
        virsh(['-c', s.SRC_URI, 'hostname']),
        virsh(['-c', s.DST_URI, 'hostname']),
      ]);
      result.auth.authenticated = {
        source: a.code === 0 && a.stdout.trim() === 'labhost1',
        destination: b.code === 0 && b.stdout.trim() === 'labhost2',
      };
      if (!result.auth.authenticated.source || !result.auth.authenticated.destination)
        throw new Error(`the SASL user could not connect: ${errorLine(a.stderr)} ${errorLine(b.stderr)}`);
    });

    // --- the guest (and the destination's capability cache, as a long-running daemon has it) ----------
    const srcXml = join(w, 'dom', 'labvm-src.xml');
    const dstXml = join(w, 'dom', 'labvm-dst.xml');
    const serialSrc = join(w, 'dom', 'serial-src.log');
    const serialDst = join(w, 'dom', 'serial-dst.log');
    await step(
      'define and start the guest on the source; probe the emulator on the destination',
      async () => {
        const [def, warm] = await Promise.all([
          virsh(['-c', s.SRC_URI, 'define', srcXml]).then(async (d) =>
            d.code === 0 ? virsh(['-c', s.SRC_URI, 'start', 'labvm']) : d,
          ),
          virsh([
            '-c',
            s.DST_URI,
            'domcapabilities',
            '--emulatorbin',
            join(w, 'qemu-wrap.sh'),
            '--virttype',
            'qemu',
            '--arch',
            'x86_64',
          ]),
        ]);
        if (def.code !== 0) throw new Error(`virsh define/start failed: ${errorLine(def.stderr)}`);
        if (warm.code !== 0) progress(`destination capability probe failed: ${errorLine(warm.stderr)}`);
      },
    );
    const bootStart = nowUs();
    await step('wait for the guest workload', async () => {
      await waitFor(
        () => /LAB_WORKLOAD_START/.test(readText(serialSrc)),
        60_000,
        () => {
          const t = readText(serialSrc);
          return `the guest did not start its workload in 60 s (serial: ${t.slice(-300)})`;
        },
      );
    });
    result.guest.bootMs = Math.round((nowUs() - bootStart) / 1000);
    result.guest.qemuMemory =
      /-m (\S+)/.exec(readText(join(w, 'dom', 'qemu-source-cmdline.txt')))?.[1] ?? null;

    // --- the migration ------------------------------------------------------------------------------
    const clientLog = join(w, 'client', 'virsh.log');
    const argv = [
      'virsh',
      '-c',
      s.SRC_URI,
      'migrate',
      '--live',
      '--bandwidth',
      String(bandwidthMiBps),
      '--xml',
      dstXml,
      'labvm',
      s.DST_URI,
    ];
    result.migrate.argv = argv;
    migrateRun = await step('virsh migrate --live', () =>
      virsh(argv.slice(1), {
        timeoutMs: (opts.migrateTimeoutS ?? 120) * 1000,
        env: {
          LIBVIRT_LOG_FILTERS: '1:libvirt 1:remote 2:rpc',
          LIBVIRT_LOG_OUTPUTS: `1:file:${clientLog}`,
        },
      }),
    );
    result.migrate.exitCode = migrateRun.code;
    result.migrate.wallMs = Math.round((migrateRun.endUs - migrateRun.startUs) / 1000);
    result.migrate.stderr = migrateRun.stderr.trim();
    progress(`virsh migrate: exit ${migrateRun.code} after ${result.migrate.wallMs} ms`);

    await step('check both sides', async () => {
      const [ds, ss, dj, sj] = await Promise.all([
        virsh(['-c', s.DST_URI, 'domstate', 'labvm']),
        virsh(['-c', s.SRC_URI, 'domstate', 'labvm']),
        virsh(['-c', s.DST_URI, 'domjobinfo', 'labvm', '--completed']),
        virsh(['-c', s.SRC_URI, 'domjobinfo', 'labvm', '--completed']),
      ]);
      result.destination.state = ds.code === 0 ? ds.stdout.trim() : `error: ${errorLine(ds.stderr)}`;
      result.source.state = ss.code === 0 ? ss.stdout.trim() : `error: ${errorLine(ss.stderr)}`;
      result.job.destination = dj.code === 0 ? parseJobInfo(dj.stdout) : null;
      result.job.source = sj.code === 0 ? parseJobInfo(sj.stdout) : null;
      // The guest keeps running on the destination: its heartbeat lines keep coming.
      if (result.destination.state === 'running')
        await waitFor(
          () => heartbeats(readText(serialDst)) >= 2,
          10_000,
          () => 'no heartbeat',
        ).catch(() => {});
      const dstSerial = readText(serialDst);
      result.destination.heartbeats = heartbeats(dstSerial);
      result.destination.panic = /Kernel panic|BUG: unable to handle|Oops:/.test(dstSerial);
    });
    if (migrateRun.code === null)
      throw new Error(
        `virsh migrate did not finish in ${opts.migrateTimeoutS ?? 120} s (ended by ${migrateRun.signal}; the source keeps the domain)`,
      );
    if (migrateRun.code !== 0) throw new Error(`virsh migrate failed: ${errorLine(migrateRun.stderr)}`);
    if (result.destination.state !== 'running')
      throw new Error(`the destination domain is ${result.destination.state}, not running`);
    result.outcome = 'completed';
  } catch (err) {
    result.error = (err as Error).message;
    progress(`error: ${result.error}`);
  } finally {
    // --- teardown (always) ---------------------------------------------------------------------------
    await step('teardown', async () => {
      ourPids = st ? pidsIn(st) : [];
      const td = await runCommand(['bash', TEARDOWN_SCRIPT, w], {
        timeoutMs: 60_000,
        env: { ...process.env, LV_KEEP: '1' },
      });
      result.cleanup.teardownOutput = (td.stdout + td.stderr).trim();
      collectLogs(w, logsDir);
      if (!opts.keepWorkdir) rmSync(w, { recursive: true, force: true });
      active.delete(w);
    });
    result.cleanup.leftovers = leftovers(st, w, ourPids, !opts.keepWorkdir);
    const l = result.cleanup.leftovers;
    result.cleanup.clean =
      l.processes.length === 0 &&
      l.namespaces.length === 0 &&
      l.links.length === 0 &&
      l.mounts.length === 0 &&
      !l.workdir;
  }

  // --- the trace ------------------------------------------------------------------------------------
  const log = (f: string) => readText(join(logsDir, f));
  const srcLog = log('libvirtd-source.log');
  const dstLog = log('libvirtd-destination.log');
  const fromUs = migrateRun?.startUs ?? t0;
  const figures = qemuFigures(srcLog, dstLog, fromUs);
  result.qemu = figures.qemu;
  result.downtime = {
    libvirtMs: numberOf(result.job.destination?.['Total downtime']),
    qemuMs: figures.qemu.downtimeMs,
    stopToResumeMs:
      figures.stopUs !== null && figures.resumeUs !== null
        ? Math.round((figures.resumeUs - figures.stopUs) / 100) / 10
        : null,
    qemuTraceMs: null,
  };
  for (const m of srcLog.matchAll(
    /RPC_SERVER_CLIENT_AUTH_(ALLOW|FAIL|DENY): client=\S+ auth=\d+(?: identity=(\S*))?/g,
  )) {
    if (m[1] === 'ALLOW') {
      result.auth.daemonAllow++;
      if (m[2] && !result.auth.identities.includes(m[2])) result.auth.identities.push(m[2]);
    } else result.auth.daemonFail++;
  }
  result.auth.daemonUnauthenticatedCalls =
    srcLog.match(/error : virNetServerProgramDispatchCall:\d+ : authentication required/g)?.length ?? 0;
  result.auth.mechanism = /Using SASL mechanism (\S+?)\./.exec(srcLog)?.[1] ?? null;
  const ssf = /negotiated an SSF of (\d+)/.exec(srcLog)?.[1];
  result.auth.ssf = ssf ? Number(ssf) : null;
  let otlp = join(opts.outDir, 'trace.otlp.jsonl');
  let perfetto = join(opts.outDir, 'trace.perfetto.json');
  if (migrateRun) {
    const trace = buildLabTrace({
      sourceLog: srcLog,
      destinationLog: dstLog,
      clientLog: log('virsh.log'),
      qemuSourceLog: log('qemu-source-trace.log'),
      qemuDestinationLog: log('qemu-destination-trace.log'),
      virsh: {
        startUs: migrateRun.startUs,
        endUs: migrateRun.endUs,
        argv: result.migrate.argv,
        exitCode: migrateRun.code,
        pid: migrateRun.pid,
      },
      seed: opts.seed,
    });
    ({ otlp, perfetto } = writeTrace(opts.outDir, trace.readable));
    const complete = trace.spans.find((x) => x.name === SPAN.complete);
    if (complete) result.downtime.qemuTraceMs = Math.round((complete.endUs - complete.startUs) / 100) / 10;
    result.trace = {
      spans: trace.readable.length,
      monitorCommands: trace.spans.filter((x) => x.name === SPAN.monitorCommand).length,
      qemuTraceRecords: trace.qemuRecords,
      notes: trace.notes,
    };
  }
  const resultFile = join(opts.outDir, 'result.json');
  writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
  progress(`${result.outcome}; wrote ${resultFile}`);
  return { result, files: { result: resultFile, otlp, perfetto, logs: logsDir } };
}

function firstLine(s: string | null | undefined): string {
  return (s ?? '').split('\n')[0]!.trim();
}

/** The `error: ...` line virsh printed last (its message), else the last line. */
function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  return (lines.filter((l) => l.startsWith('error:')).pop() ?? lines.pop() ?? '').trim();
}

function readText(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

function numberOf(v: number | string | undefined): number | null {
  return typeof v === 'number' ? v : null;
}

function heartbeats(serial: string): number {
  return serial.match(/LAB_HB writes=/g)?.length ?? 0;
}

async function waitFor(ok: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(why());
    await sleep(100);
  }
}

/** Every process in the lab's network namespaces, plus the daemons setup.sh recorded. */
function pidsIn(st: LabState): number[] {
  const inodes = new Set<string>();
  for (const ns of [st.NS1, st.NS2]) {
    try {
      inodes.add(`net:[${statSync(`/run/netns/${ns}`).ino}]`);
    } catch {
      // not there
    }
  }
  const out = new Set<number>();
  for (const p of [st.PID1, st.PID2]) if (p) out.add(Number(p));
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${d}/ns/net`))) out.add(Number(d));
    } catch {
      // gone, or not ours to read
    }
  }
  return [...out];
}

/** A process that still exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** What the run could have left behind: processes, namespaces, veth, mounts, the work directory. */
function leftovers(
  st: LabState | null,
  w: string,
  pids: number[],
  removed: boolean,
): LibvirtLabResult['cleanup']['leftovers'] {
  const processes = new Set(pids.filter(alive));
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(w) && alive(Number(d)))
        processes.add(Number(d));
    } catch {
      // gone
    }
  }
  const nsList = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  const namespaces = st ? [st.NS1, st.NS2].filter((n) => new RegExp(`^${n}( |$)`, 'm').test(nsList)) : [];
  const links = st
    ? [st.VETH1, st.VETH2].filter(
        (v) => spawnSync('ip', ['link', 'show', v], { stdio: 'ignore' }).status === 0,
      )
    : [];
  const mounts = readText('/proc/self/mountinfo')
    .split('\n')
    .filter((l) => l.includes(w));
  return { processes: [...processes], namespaces, links, mounts, workdir: removed && existsSync(w) };
}

/** Copy the raw logs out of the work directory (the daemons have stopped writing them). */
function collectLogs(w: string, dir: string): void {
  const files: [string, string][] = [
    ['lv1/log/libvirtd.log', 'libvirtd-source.log'],
    ['lv2/log/libvirtd.log', 'libvirtd-destination.log'],
    ['lv1/log/qemu/labvm.log', 'qemu-source-stderr.log'],
    ['lv2/log/qemu/labvm.log', 'qemu-destination-stderr.log'],
    ['client/virsh.log', 'virsh.log'],
    ['dom/qemu-source-trace.log', 'qemu-source-trace.log'],
    ['dom/qemu-destination-trace.log', 'qemu-destination-trace.log'],
    ['dom/qemu-source-cmdline.txt', 'qemu-source-cmdline.txt'],
    ['dom/qemu-destination-cmdline.txt', 'qemu-destination-cmdline.txt'],
    ['dom/serial-src.log', 'serial-source.log'],
    ['dom/serial-dst.log', 'serial-destination.log'],
    ['dom/labvm-src.xml', 'labvm-source.xml'],
    ['dom/labvm-dst.xml', 'labvm-destination.xml'],
    ['lv1/etc/libvirtd.conf', 'libvirtd.conf'],
    ['lv1/etc/qemu.conf', 'qemu.conf'],
    ['lv1/etc/sasl2/libvirt.conf', 'sasl2-libvirt.conf'],
  ];
  for (const [from, to] of files) {
    const f = join(w, from);
    if (existsSync(f)) copyFileSync(f, join(dir, to));
  }
}
