import type { ClaimedJob } from '@ct/contracts';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';

/**
 * Job directories whose outputs did not all reach storage are moved under `<work-dir>/kept/`, out of the
 * way of createWorkspace (the job may be claimed again by this very worker, which starts from empty).
 */
export const KEPT_DIR = 'kept';

export interface JobWorkspace {
  jobDir: string;
  dataDir: string;
  outputDir: string;
  packageFile: string;
  configPath: string;
  dataloaderPath: string;
}

export function workspacePaths(workDir: string, jobId: string): JobWorkspace {
  const jobDir = join(workDir, jobId);
  return {
    jobDir,
    dataDir: join(jobDir, 'data'),
    outputDir: join(jobDir, 'output'),
    packageFile: join(jobDir, 'package.zip'),
    configPath: join(jobDir, 'config.json'),
    dataloaderPath: join(jobDir, 'dataloader.json'),
  };
}

/** Starts from an empty job directory: a job claimed again after a lost lease must not see stale files. */
export async function createWorkspace(workDir: string, jobId: string): Promise<JobWorkspace> {
  const ws = workspacePaths(workDir, jobId);
  await rm(ws.jobDir, { recursive: true, force: true });
  await mkdir(ws.dataDir, { recursive: true });
  await mkdir(ws.outputDir, { recursive: true });
  return ws;
}

/** Where the outputs of a run that could not deliver them are kept: `<work-dir>/kept/<jobId>-fence<fence>`. */
export function keptPath(workDir: string, jobId: string, fence: number): string {
  return join(workDir, KEPT_DIR, `${jobId}-fence${fence}`);
}

/** Moves the job directory to dest (same file system: a rename); false when that failed and it stayed put. */
export async function keepWorkspace(ws: JobWorkspace, dest: string): Promise<boolean> {
  try {
    await mkdir(dirname(dest), { recursive: true });
    await rename(ws.jobDir, dest);
    return true;
  } catch {
    return false;
  }
}

/**
 * The packager rewrote each dataset's instance_data_dir relative to the archive root
 * (e.g. datasets/<id>); here they become absolute paths under the extracted data dir.
 * Absolute paths are left alone: they name data already present on this machine.
 */
export function resolveDataloader(entries: unknown[], dataDir: string): unknown[] {
  const root = resolve(dataDir);
  return entries.map((entry) => {
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return entry;
    const dir = (entry as Record<string, unknown>).instance_data_dir;
    if (typeof dir !== 'string' || dir === '' || isAbsolute(dir)) return entry;
    const resolved = resolve(root, dir);
    if (resolved !== root && !resolved.startsWith(root + sep)) {
      throw new Error(`dataset path ${JSON.stringify(dir)} escapes the job's data directory`);
    }
    return { ...entry, instance_data_dir: resolved };
  });
}

export async function writeJobFiles(ws: JobWorkspace, job: Pick<ClaimedJob, 'config' | 'dataloader'>): Promise<void> {
  await writeFile(ws.configPath, JSON.stringify(job.config, null, 2));
  await writeFile(ws.dataloaderPath, JSON.stringify(resolveDataloader(job.dataloader, ws.dataDir), null, 2));
}

/** The trainer environment of docs/TRAINER-CONTRACT.md: the contract's variables over the allow-listed base (agent-config). */
export function trainerEnv(base: Record<string, string>, jobId: string, ws: JobWorkspace): Record<string, string> {
  return {
    ...base,
    CT_JOB_ID: jobId,
    CT_CONFIG_PATH: ws.configPath,
    CT_DATALOADER_PATH: ws.dataloaderPath,
    CT_DATA_DIR: ws.dataDir,
    CT_OUTPUT_DIR: ws.outputDir,
    CT_PROGRESS: 'stdout',
  };
}
