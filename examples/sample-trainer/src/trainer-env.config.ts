import { readFileSync } from 'node:fs';

/** Everything the sample trainer takes from its environment and config files (docs/TRAINER-CONTRACT.md). */
export interface TrainerSettings {
  jobId: string;
  outputDir: string;
  dataDirs: string[];
  maxTrainSteps: number;
  checkpointingSteps: number;
  learningRate: number;
  stepDelayMs: number;
  failAtStep: number | null;
  seed: number;
}

/** Thrown for a broken environment, so main can print one clear line and exit 2. */
export class TrainerSetupError extends Error {}

function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new TrainerSetupError(`${name} is not set; this program is meant to be started by the worker agent`);
  return value;
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    throw new TrainerSetupError(`cannot read ${what} at ${path}: ${(err as Error).message}`);
  }
}

function positiveInt(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : fallback;
}

function nonNegativeNumber(value: unknown, fallback: number): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** The dataloader is SimpleTuner's list of datasets; only instance_data_dir matters here. */
function datasetDirs(dataloader: unknown): string[] {
  if (!Array.isArray(dataloader)) return [];
  const dirs: string[] = [];
  for (const entry of dataloader) {
    if (entry && typeof entry === 'object' && 'instance_data_dir' in entry) {
      const dir = (entry as { instance_data_dir: unknown }).instance_data_dir;
      if (typeof dir === 'string' && dir.length > 0) dirs.push(dir);
    }
  }
  return dirs;
}

export function loadTrainerSettings(env: NodeJS.ProcessEnv = process.env): TrainerSettings {
  const config = readJson(requireEnv(env, 'CT_CONFIG_PATH'), 'the job config');
  const cfg = (config && typeof config === 'object' ? config : {}) as Record<string, unknown>;
  const dataloaderPath = env.CT_DATALOADER_PATH;
  const failAt = positiveInt(cfg.fail_at_step, 0);
  return {
    jobId: env.CT_JOB_ID ?? 'local',
    outputDir: requireEnv(env, 'CT_OUTPUT_DIR'),
    dataDirs: dataloaderPath ? datasetDirs(readJson(dataloaderPath, 'the dataloader config')) : [],
    maxTrainSteps: positiveInt(cfg.max_train_steps, 300),
    checkpointingSteps: positiveInt(cfg.checkpointing_steps, 100),
    learningRate: nonNegativeNumber(cfg.learning_rate, 0.5) || 0.5,
    stepDelayMs: nonNegativeNumber(cfg.step_delay_ms, 0),
    failAtStep: failAt > 0 ? failAt : null,
    seed: positiveInt(cfg.seed, 42),
  };
}
