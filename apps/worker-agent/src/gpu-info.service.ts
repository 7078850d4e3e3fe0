import { execFile } from 'node:child_process';

export interface GpuInfo {
  name: string;
  memoryMiB: number;
}

/** Parses `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits` output. */
export function parseNvidiaSmi(output: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    const comma = line.lastIndexOf(',');
    if (comma <= 0) continue;
    const memoryMiB = Number.parseInt(line.slice(comma + 1).trim(), 10);
    const name = line.slice(0, comma).trim().slice(0, 200);
    if (name && Number.isInteger(memoryMiB) && memoryMiB >= 0) gpus.push({ name, memoryMiB });
  }
  return gpus.slice(0, 64);
}

/** GPUs seen by nvidia-smi; an empty list when it is missing or fails (CPU-only machines are fine). */
export function detectGpus(timeoutMs = 5_000): Promise<GpuInfo[]> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { timeout: timeoutMs }, (err, stdout) =>
      resolve(err ? [] : parseNvidiaSmi(stdout)),
    );
  });
}
