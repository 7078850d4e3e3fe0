import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ts from 'typescript';

/** Transpiles the trainer's sources into a temp dir, so the test runs the real program as a child process. */
function buildTrainer(outDir: string): string {
  const srcDir = __dirname;
  for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))) {
    const out = ts.transpileModule(readFileSync(join(srcDir, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    writeFileSync(join(outDir, file.replace(/\.ts$/, '.js')), out.outputText);
  }
  return join(outDir, 'main.js');
}

interface Run {
  code: number | null;
  stdout: string[];
  stderr: string;
}

function runTrainer(main: string, env: Record<string, string>, onLine?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', ...env } });
    const stdout: string[] = [];
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        stdout.push(line);
        onLine?.(line, child);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function parseSafetensors(file: string): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const buf = readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  delete header.__metadata__;
  const tensors = header as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const dataLen = buf.length - 8 - headerLen;
  for (const t of Object.values(tensors)) {
    expect(t.dtype).toBe('F32');
    expect(t.data_offsets[1] - t.data_offsets[0]).toBe(t.shape.reduce((a, b) => a * b, 1) * 4);
    expect(t.data_offsets[1]).toBeLessThanOrEqual(dataLen);
  }
  return tensors;
}

describe('sample trainer (child process)', () => {
  jest.setTimeout(20_000);
  let root: string;
  let main: string;
  let env: Record<string, string>;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ct-sample-'));
    mkdirSync(join(root, 'bin'));
    main = buildTrainer(join(root, 'bin'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  beforeEach(() => {
    const job = mkdtempSync(join(root, 'job-'));
    const ds = join(job, 'data', 'datasets', 'cats');
    mkdirSync(ds, { recursive: true });
    for (let i = 0; i < 6; i++) {
      writeFileSync(join(ds, `img${i}.png`), Buffer.from(Array.from({ length: 2048 }, (_, j) => (j * 37 + i * 101) % 256)));
      writeFileSync(join(ds, `img${i}.txt`), `a photo of cat number ${i} on a sofa`);
    }
    writeFileSync(join(job, 'dataloader.json'), JSON.stringify([{ id: 'cats', type: 'local', instance_data_dir: ds }]));
    env = { CT_JOB_ID: 'job-1', CT_CONFIG_PATH: join(job, 'config.json'), CT_DATALOADER_PATH: join(job, 'dataloader.json'), CT_OUTPUT_DIR: join(job, 'output'), CT_PROGRESS: 'stdout' };
  });

  const writeConfig = (config: Record<string, unknown>): void => writeFileSync(env.CT_CONFIG_PATH!, JSON.stringify(config));

  it('trains with a decreasing loss and writes checkpoints, safetensors and a summary', async () => {
    writeConfig({ max_train_steps: 120, checkpointing_steps: 50 });
    const run = await runTrainer(main, env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const events = run.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { ct: string; step: number; loss?: number; path?: string });
    const progress = events.filter((e) => e.ct === 'progress');
    expect(progress).toHaveLength(120);
    expect(progress[119]).toMatchObject({ step: 120, total_steps: 120 });
    expect(progress[119]!.loss!).toBeLessThan(progress[0]!.loss! * 0.5);
    expect(events.filter((e) => e.ct === 'checkpoint').map((e) => e.path)).toEqual(['checkpoints/checkpoint-50', 'checkpoints/checkpoint-100']);
    const out = env.CT_OUTPUT_DIR!;
    expect(JSON.parse(readFileSync(join(out, 'checkpoints/checkpoint-100/model.json'), 'utf8'))).toMatchObject({ step: 100 });
    expect(Object.keys(parseSafetensors(join(out, 'model.safetensors')))).toEqual(['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']);
    const summary = JSON.parse(readFileSync(join(out, 'training_summary.json'), 'utf8')) as { examples: number; final_loss: number; initial_loss: number };
    expect(summary.examples).toBe(12);
    expect(summary.final_loss).toBeLessThan(summary.initial_loss);
  });

  it('exits non-zero with a message at fail_at_step', async () => {
    writeConfig({ max_train_steps: 50, fail_at_step: 10 });
    const run = await runTrainer(main, env);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/simulated failure at step 10/);
    expect(existsSync(join(env.CT_OUTPUT_DIR!, 'model.safetensors'))).toBe(false);
  });

  it('stops promptly with exit code 143 on SIGTERM', async () => {
    writeConfig({ max_train_steps: 1000, step_delay_ms: 50 });
    let sentAt = 0;
    const run = await runTrainer(main, env, (line, child) => {
      if (!sentAt && line.includes('"step":3,')) {
        sentAt = Date.now();
        child.kill('SIGTERM');
      }
    });
    expect(run.code).toBe(143);
    expect(Date.now() - sentAt).toBeLessThan(1_000);
    expect(run.stdout.join('\n')).toMatch(/received SIGTERM/);
  });

  it('fails clearly when started outside the worker agent', async () => {
    const run = await runTrainer(main, {});
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/CT_CONFIG_PATH is not set/);
  });
});
