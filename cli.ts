/**
 * The `migscope` command registry. Each command lives beside its domain's code and is imported lazily;
 * a command module exports `run(argv): Promise<number>` (the exit code) and `HELP` (its --help text).
 * Exit codes are decided here only: 0 ok, 2 bad input (one line, no stack), 1 a bug (stack, please report).
 */
import { UsageError } from './sim/errors.ts';

interface CommandModule {
  run(argv: string[]): Promise<number>;
  HELP: string;
}

interface Command {
  summary: string;
  load: () => Promise<CommandModule>;
}

/** Every subcommand: name → one-line summary and module. */
export const COMMANDS: Record<string, Command> = {
  sim: {
    summary: 'simulate one migration scenario (default: the built-in 1 GiB scenario)',
    load: () => import('./models/command.ts'),
  },
  lab: {
    summary: 'run a scenario as a real migration between two local QEMU processes',
    load: () => import('./trace/lab/command.ts'),
  },
  report: {
    summary: 'turn result.json and trace.otlp.jsonl into flamegraphs, timelines and HTML',
    load: () => import('./reports/command.ts'),
  },
  trace: {
    summary: 'import QEMU trace-event and libvirt debug logs, record QMP traffic, export traces',
    load: () => import('./trace/command.ts'),
  },
  sweep: {
    summary: 'run a parameter sweep locally or as a Slurm job array',
    load: () => import('./models/sweep/command.ts'),
  },
  validate: {
    summary: 'compare the simulator with real migrations over a scenario matrix',
    load: () => import('./models/validate/command.ts'),
  },
  bench: {
    summary: 'measure simulator speed and memory (npm run bench)',
    load: () => import('./test/bench/command.ts'),
  },
};

/** Top-level help. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`);
  return [
    'migscope: see why a VM live migration takes as long as it does',
    '',
    'usage: migscope <command> [options]      migscope <command> --help',
    '',
    'commands:',
    ...lines,
    '',
    'examples:',
    '  migscope sim                                   simulate the built-in scenario',
    '  migscope sim scenario.yaml --set vm.memoryMiB=4096 --out out/run1',
    '',
  ].join('\n');
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  if (name === '--version') {
    process.stdout.write('migscope 0.1.0\n');
    return 0;
  }
  const cmd = COMMANDS[name];
  try {
    if (!cmd) throw new UsageError(`unknown command "${name}" (run migscope --help)`);
    let mod: CommandModule;
    try {
      mod = await cmd.load();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(name))
        throw new UsageError(`command "${name}" is not available in this build yet`);
      throw err;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(mod.HELP.endsWith('\n') ? mod.HELP : `${mod.HELP}\n`);
      return 0;
    }
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`migscope: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(
      `migscope: internal error, please report it with the command you ran:\n${(err as Error)?.stack ?? String(err)}\n`,
    );
    return 1;
  }
}
