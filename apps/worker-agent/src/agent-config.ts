import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { splitCommandLine } from './command-line.util';

/**
 * The one place the worker agent reads its configuration (CLI flags, plus CT_WORKER_* environment
 * fallbacks so a token need not appear in `ps`). Everything is validated once, here.
 */
export const agentConfigSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
  token: z.string().trim().min(1, 'a worker token is required (--token, --token-file or CT_WORKER_TOKEN)'),
  labels: z.array(z.string().min(1).max(100)).max(50),
  name: z.string().min(1).max(255).optional(),
  workDir: z.string().min(1),
  trainerArgv: z.array(z.string()).min(1, '--trainer-cmd must not be empty'),
  once: z.boolean(),
  cancelGraceMs: z.number().int().min(0).max(600_000),
  logBatchMs: z.number().int().min(10).max(60_000),
  claimWaitMs: z.number().int().min(0).max(120_000),
  keepJobDirs: z.boolean(),
  /** outputs larger than this go up as S3 multipart uploads of `partSizeMib` parts (S3: parts of 5 MiB to 5 GiB) */
  multipartThresholdMib: z.number().int().min(5).max(5_120),
  partSizeMib: z.number().int().min(5).max(5_120),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
});
export type AgentConfig = z.infer<typeof agentConfigSchema> & {
  /** The environment trainers inherit: the agent's own, minus the worker token (a trainer must not see it). */
  trainerBaseEnv: NodeJS.ProcessEnv;
};

/** Raised for any invalid configuration; main prints it and exits 2. */
export class AgentConfigError extends Error {}

/** Default trainer: the sample trainer built next to this app in the monorepo. */
export function defaultTrainerCommand(): string[] {
  return [process.execPath, resolve(__dirname, '../../../examples/sample-trainer/dist/main.js')];
}

function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

export function buildProgram(): Command {
  return new Command('worker-agent')
    .description('Runs training jobs handed out by the cloud trainer gateway (docs/WORKER-PROTOCOL.md)')
    .option('--url <url>', 'gateway base URL, e.g. http://localhost:3000 (env CT_WORKER_URL)')
    .option('--token <token>', 'worker token (env CT_WORKER_TOKEN)')
    .option('--token-file <path>', 'read the worker token from this file')
    .option('--labels <list>', 'comma-separated labels jobs can require', '')
    .option('--name <name>', 'worker name shown in the UI (default: hostname)')
    .option('--work-dir <dir>', 'where job directories are created', join(tmpdir(), 'ct-worker'))
    .option('--trainer-cmd <cmd>', 'trainer command line, spawned without a shell (default: the sample trainer)')
    .option('--once', 'exit after one job', false)
    .option('--cancel-grace-ms <ms>', 'SIGTERM → SIGKILL grace period', intOption, 10_000)
    .option('--log-batch-ms <ms>', 'max delay before a log batch is sent', intOption, 500)
    .option('--claim-wait-ms <ms>', 'long-poll wait of one claim request', intOption, 20_000)
    .option('--keep-job-dirs', 'keep job directories after the job ends (debugging)', false)
    .option('--multipart-threshold-mib <mib>', 'upload output files larger than this as multipart uploads', intOption, 256)
    .option('--part-size-mib <mib>', 'part size of multipart uploads', intOption, 64)
    .option('--log-level <level>', 'agent log level', 'info')
    .exitOverride();
}

function readToken(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  if (typeof opts.tokenFile === 'string') {
    try {
      return readFileSync(opts.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new AgentConfigError(`cannot read --token-file ${opts.tokenFile}: ${(err as Error).message}`);
    }
  }
  return typeof opts.token === 'string' ? opts.token : (env.CT_WORKER_TOKEN ?? '');
}

function trainerArgv(opts: Record<string, unknown>): string[] {
  if (typeof opts.trainerCmd !== 'string') return defaultTrainerCommand();
  try {
    return splitCommandLine(opts.trainerCmd);
  } catch (err) {
    throw new AgentConfigError((err as Error).message);
  }
}

/** Parses argv (as process.argv, with node and script) into a validated config. */
export function loadAgentConfig(argv: string[] = process.argv, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const program = buildProgram();
  program.parse(argv);
  const opts = program.opts<Record<string, unknown>>();
  const raw = {
    url: opts.url ?? env.CT_WORKER_URL ?? '',
    token: readToken(opts, env),
    labels: String(opts.labels ?? '').split(',').map((l) => l.trim()).filter(Boolean),
    name: opts.name,
    workDir: resolve(String(opts.workDir)),
    trainerArgv: trainerArgv(opts),
    once: opts.once === true,
    cancelGraceMs: opts.cancelGraceMs,
    logBatchMs: opts.logBatchMs,
    claimWaitMs: opts.claimWaitMs,
    keepJobDirs: opts.keepJobDirs === true,
    multipartThresholdMib: opts.multipartThresholdMib,
    partSizeMib: opts.partSizeMib,
    logLevel: opts.logLevel,
  };
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new AgentConfigError(`invalid worker-agent configuration:\n  ${issues.join('\n  ')}`);
  }
  const trainerBaseEnv = { ...env };
  delete trainerBaseEnv.CT_WORKER_TOKEN;
  return { ...parsed.data, trainerBaseEnv };
}
