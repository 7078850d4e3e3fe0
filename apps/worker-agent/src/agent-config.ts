import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { splitCommandLine } from './command-line.util';
import { parseEnvPatterns, parseTrainerEnvFile, selectTrainerEnv } from './trainer-env.util';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * The one place the worker agent reads its configuration (CLI flags, plus CT_WORKER_* environment
 * fallbacks so a token need not appear in `ps`). Everything is validated once, here.
 */
export const agentConfigSchema = z.object({
  url: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
  token: z.string().trim().min(1, 'a worker token is required (--token-file, CT_WORKER_TOKEN or --token)'),
  labels: z.array(z.string().min(1).max(100)).max(50),
  name: z.string().min(1).max(255).optional(),
  workDir: z.string().min(1),
  trainerArgv: z.array(z.string()).min(1, '--trainer-cmd must not be empty'),
  once: z.boolean(),
  cancelGraceMs: z.number().int().min(0).max(600_000),
  logBatchMs: z.number().int().min(10).max(60_000),
  /** the gateway refuses a claim with waitMs above 60 s (400), so a larger value would never claim */
  claimWaitMs: z.number().int().min(0).max(60_000),
  keepJobDirs: z.boolean(),
  /** outputs larger than this go up as S3 multipart uploads of `partSizeMib` parts (S3: parts of 5 MiB to 5 GiB) */
  multipartThresholdMib: z.number().int().min(5).max(5_120),
  partSizeMib: z.number().int().min(5).max(5_120),
  /** how long a dependency (gateway, storage) may keep failing before the agent gives up on a job's step */
  outageWindowS: z.number().min(1).max(86_400),
  logLevel: z.enum(LOG_LEVELS),
});
export type AgentConfig = z.infer<typeof agentConfigSchema> & {
  /**
   * What a trainer gets besides the contract's CT_* variables: the allow-listed part of the agent's
   * environment plus --trainer-env-file (docs/TRAINER-CONTRACT.md). Never the worker token.
   */
  trainerBaseEnv: Record<string, string>;
};

/** Raised for any invalid configuration; main prints it and exits 2. */
export class AgentConfigError extends Error {}

/** Default trainer: the sample trainer built next to this app in the monorepo. */
export function defaultTrainerCommand(): string[] {
  return [process.execPath, resolve(__dirname, '../../../examples/sample-trainer/dist/main.js')];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function numberOption(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
}

const EXAMPLE = `
Example (the token file keeps the token out of \`ps\` and the shell history):
  node apps/worker-agent/dist/main.js --url http://orchestrator:8001 --token-file /etc/ct-worker/token \\
    --labels a100 --trainer-cmd "python -m simpletuner.train"
`;

export function buildProgram(): Command {
  return new Command('worker-agent')
    .description('Runs training jobs handed out by the cloud trainer gateway (docs/WORKER-PROTOCOL.md)')
    .option('--url <url>', 'gateway base URL; the gateway listens on port 8001 by default, e.g. http://localhost:8001 (env CT_WORKER_URL)')
    .option('--token-file <path>', 'read the worker token from this file (recommended)')
    .option('--token <token>', 'worker token; visible to every user in `ps`, prefer --token-file or env CT_WORKER_TOKEN')
    .option('--labels <list>', 'comma-separated labels this worker asks for; jobs are routed by the labels the admin gave it, and labels it was not given are reported and ignored', '')
    .option('--name <name>', 'hostname this worker reports when it registers (default: the machine\'s hostname)')
    .option('--work-dir <dir>', 'where job directories are created', join(tmpdir(), 'ct-worker'))
    .option('--trainer-cmd <cmd>', 'trainer command line, spawned without a shell (default: the sample trainer, examples/sample-trainer)')
    .addOption(
      new Option('--trainer-env <names>', 'more environment variables the trainer inherits (comma list, repeatable, NAME or PREFIX*)')
        .argParser(collect)
        .default([], 'the allow-list of docs/TRAINER-CONTRACT.md only'),
    )
    .option('--trainer-env-file <path>', 'NAME=value lines set for every trainer, e.g. its own API keys (keep it mode 0600)')
    .option('--once', 'exit after one job: code 0 if it completed, 1 otherwise', false)
    .option('--cancel-grace-ms <ms>', 'how long a trainer being stopped gets between SIGTERM and SIGKILL', intOption, 10_000)
    .option('--log-batch-ms <ms>', 'longest a trainer log line waits before it is sent (10 to 60000)', intOption, 500)
    .option('--claim-wait-ms <ms>', 'long-poll wait of one claim request (0 to 60000; the gateway may answer sooner)', intOption, 20_000)
    .option('--keep-job-dirs', 'keep every job directory after the job ends (debugging); undelivered outputs are kept under <work-dir>/kept anyway', false)
    .option('--multipart-threshold-mib <mib>', 'upload output files larger than this as S3 multipart uploads (5 to 5120)', intOption, 256)
    .option('--part-size-mib <mib>', 'part size of multipart uploads (5 to 5120)', intOption, 64)
    .option('--outage-window-s <s>', 'how long the gateway or storage may stay unreachable before a job step gives up (1 to 86400)', numberOption, 600)
    .option('--log-level <level>', `agent log level: ${LOG_LEVELS.join(', ')}`, 'info')
    .addHelpText('after', EXAMPLE)
    .exitOverride();
}

function readTextFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentConfigError(`cannot read ${flag} ${path}: ${(err as Error).message}`);
  }
}

function readToken(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  if (typeof opts.tokenFile === 'string') return readTextFile(opts.tokenFile, '--token-file').trim();
  return typeof opts.token === 'string' ? opts.token : (env.CT_WORKER_TOKEN ?? '');
}

function trainerBaseEnv(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, string> {
  try {
    const inherited = selectTrainerEnv(env, parseEnvPatterns(opts.trainerEnv as string[]));
    if (typeof opts.trainerEnvFile !== 'string') return inherited;
    return { ...inherited, ...parseTrainerEnvFile(readTextFile(opts.trainerEnvFile, '--trainer-env-file'), opts.trainerEnvFile) };
  } catch (err) {
    if (err instanceof AgentConfigError) throw err;
    throw new AgentConfigError((err as Error).message);
  }
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
    outageWindowS: opts.outageWindowS,
    logLevel: opts.logLevel,
  };
  const parsed = agentConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new AgentConfigError(`invalid worker-agent configuration:\n  ${issues.join('\n  ')}`);
  }
  return { ...parsed.data, trainerBaseEnv: trainerBaseEnv(opts, env) };
}
