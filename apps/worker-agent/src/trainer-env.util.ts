import { parseEnv } from 'node:util';

/**
 * Which of the agent's environment variables a trainer inherits (docs/TRAINER-CONTRACT.md). An allow-list
 * rather than a deny-list: the agent often runs from a shell (or a unit file) that also holds DATABASE_URL,
 * cloud keys or tokens, and a trainer is code this system did not write. A name is either exact or a
 * prefix ending in `*`.
 */
export const DEFAULT_TRAINER_ENV: readonly string[] = [
  // a working process: where programs and home are, who runs it, language, time zone, scratch space, terminal
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'LC_*', 'TZ', 'TMPDIR', 'TERM',
  // shared libraries (CUDA/cuDNN outside the default linker path)
  'LD_LIBRARY_PATH',
  // GPU selection and GPU runtime settings
  'CUDA_*', 'NVIDIA_*', 'NCCL_*', 'HIP_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES', 'PYTORCH_*', 'OMP_NUM_THREADS',
  // the Python interpreter and its environment
  'PYTHON*', 'VIRTUAL_ENV', 'CONDA_*',
  // model caches (locations and offline switches; never the hub tokens)
  'HF_HOME', 'HF_HUB_CACHE', 'HF_DATASETS_CACHE', 'HF_HUB_OFFLINE', 'HF_DATASETS_OFFLINE', 'HF_HUB_ENABLE_HF_TRANSFER',
  'HF_HUB_DISABLE_TELEMETRY', 'TRANSFORMERS_CACHE', 'TRANSFORMERS_OFFLINE', 'HUGGINGFACE_HUB_CACHE', 'TORCH_HOME',
  'XDG_CACHE_HOME',
];

/**
 * A prefix pattern (`CUDA_*`) could still catch a credential someone exported under that prefix, so names
 * that look like one pass only when the operator names them with --trainer-env.
 */
const CREDENTIAL_LIKE = /TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|ACCESS_KEY|PRIVATE_KEY|AUTH/i;

/** The contract's own namespace: the agent sets CT_* for the trainer, and CT_WORKER_TOKEN must never leak. */
const RESERVED_PREFIX = 'CT_';

const PATTERN = /^(?:[A-Za-z_][A-Za-z0-9_]*\*?|\*)$/;

/** Splits `--trainer-env` values (each may be a comma list) into validated patterns. */
export function parseEnvPatterns(values: readonly string[]): string[] {
  const patterns = values.flatMap((v) => v.split(',')).map((p) => p.trim()).filter(Boolean);
  const bad = patterns.find((p) => !PATTERN.test(p));
  if (bad !== undefined) {
    throw new Error(`--trainer-env: ${JSON.stringify(bad)} is not a variable name (letters, digits, _; optionally ending in *)`);
  }
  return patterns;
}

export function matchesPattern(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** The variables of `env` a trainer may see: the defaults (minus credential-like names) plus the operator's patterns. */
export function selectTrainerEnv(env: NodeJS.ProcessEnv, operatorPatterns: readonly string[]): Record<string, string> {
  const selected: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name.startsWith(RESERVED_PREFIX)) continue;
    const byOperator = operatorPatterns.some((p) => matchesPattern(name, p));
    const byDefault = DEFAULT_TRAINER_ENV.some((p) => matchesPattern(name, p)) && !CREDENTIAL_LIKE.test(name);
    if (byOperator || byDefault) selected[name] = value;
  }
  return selected;
}

/**
 * Variables set for every trainer from a dotenv-style file (`NAME=value` lines, `#` comments): the way to
 * hand a trainer its own credentials (W&B, the Hugging Face hub) without exporting them to the agent.
 */
export function parseTrainerEnvFile(content: string, path: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(content))) {
    if (value === undefined) continue;
    if (!PATTERN.test(name) || name.includes('*')) throw new Error(`--trainer-env-file ${path}: ${JSON.stringify(name)} is not a variable name`);
    if (name.startsWith(RESERVED_PREFIX)) throw new Error(`--trainer-env-file ${path}: ${name} is reserved (the agent sets CT_* itself)`);
    vars[name] = value;
  }
  return vars;
}
