import type { ClaimedJob } from '@ct/contracts';
import archiver from 'archiver';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FakeGateway } from '../test/fake-gateway';
import { buildRawZip } from '../test/raw-zip.writer';
import type { AgentConfig } from './agent-config';
import { GatewayClient } from './gateway-client.service';
import { EXIT, WorkerAgent } from './worker-agent.service';

/** A stand-in trainer honouring the contract: reads the env files, prints progress, writes outputs. */
const TRAINER = `
const fs = require('fs'), path = require('path');
const cfg = JSON.parse(fs.readFileSync(process.env.CT_CONFIG_PATH, 'utf8'));
const dl = JSON.parse(fs.readFileSync(process.env.CT_DATALOADER_PATH, 'utf8'));
console.log('datasets ' + dl.map((d) => fs.readdirSync(d.instance_data_dir).sort().join('+')).join(','));
console.log('progress mode ' + process.env.CT_PROGRESS + ' token ' + (process.env.CT_WORKER_TOKEN || 'hidden'));
const out = process.env.CT_OUTPUT_DIR;
fs.mkdirSync(path.join(out, 'checkpoints', 'c-2'), { recursive: true });
fs.writeFileSync(path.join(out, 'model.bin'), 'weights');
fs.writeFileSync(path.join(out, 'checkpoints', 'c-2', 'm.json'), '{}');
process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(143); });
let step = 0;
const total = cfg.steps;
const timer = setInterval(() => {
  step++;
  console.log(JSON.stringify({ ct: 'progress', step, total_steps: total, loss: 1 / step }));
  console.error('stderr line ' + step);
  if (step === 2) console.log(JSON.stringify({ ct: 'checkpoint', step, path: 'checkpoints/c-2' }));
  if (step >= total) { clearInterval(timer); process.exit(cfg.exit_code || 0); }
}, cfg.delay || 5);
`;

describe('WorkerAgent against a fake gateway', () => {
  jest.setTimeout(15_000);
  let gw: FakeGateway;
  let root: string;
  let trainerFile: string;

  beforeEach(async () => {
    gw = new FakeGateway();
    await gw.start();
    root = mkdtempSync(join(tmpdir(), 'ct-agent-'));
    trainerFile = join(root, 'trainer.js');
    writeFileSync(trainerFile, TRAINER);
  });
  afterEach(async () => {
    await gw.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function putPackage(files: Record<string, string>): Promise<void> {
    const zip = archiver('zip');
    const chunks: Buffer[] = [];
    zip.on('data', (c: Buffer) => chunks.push(c));
    for (const [name, data] of Object.entries(files)) zip.append(data, { name });
    await zip.finalize();
    gw.objects.set('datasets/org/job-1.zip', Buffer.concat(chunks));
  }

  function job(config: Record<string, unknown>): ClaimedJob {
    return {
      jobId: 'job-1',
      fence: 3,
      name: 'test job',
      config,
      dataloader: [{ id: 'cats', type: 'local', instance_data_dir: 'datasets/cats' }],
      storage: {
        endpoint: `${gw.url}/s3`,
        region: 'us-east-1',
        accessKeyId: 'AKJOB',
        secretAccessKey: 'secret',
        packageBucket: 'datasets',
        packageKey: 'org/job-1.zip',
        outputBucket: 'outputs',
        outputPrefix: 'org/job-1',
      },
      leaseTtlMs: 5000,
    };
  }

  function agent(overrides: Partial<AgentConfig> = {}): WorkerAgent {
    const config: AgentConfig = {
      url: gw.url,
      token: 'good-token',
      labels: ['gpu'],
      workDir: join(root, 'work'),
      trainerArgv: [process.execPath, trainerFile],
      once: true,
      cancelGraceMs: 1000,
      logBatchMs: 50,
      claimWaitMs: 100,
      keepJobDirs: false,
      logLevel: 'silent',
      trainerBaseEnv: { PATH: process.env.PATH },
      ...overrides,
    };
    return new WorkerAgent({ config, logger: pino({ level: 'silent' }), gateway: new GatewayClient(gw.url, config.token), registration: { labels: config.labels, gpus: [] } });
  }

  async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const t0 = Date.now();
    while (!predicate()) {
      if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('runs a job: package, trainer, logs, progress, uploads, completed', async () => {
    await putPackage({ 'datasets/cats/a.png': 'png', 'datasets/cats/a.txt': 'a cat' });
    gw.jobs.push(job({ steps: 5 }));
    expect(await agent().run()).toBe(EXIT.ok);
    const kinds = gw.reports().map((r) => r.kind);
    expect(kinds[0]).toBe('started');
    expect(kinds[kinds.length - 1]).toBe('completed');
    expect(gw.reports().every((r) => r.fence === 3)).toBe(true);
    const lastProgress = gw.reports().filter((r) => r.kind === 'progress').pop();
    expect(lastProgress?.progress).toEqual({ step: 5, totalSteps: 5, loss: 0.2, checkpoint: 'checkpoints/c-2' });
    expect(gw.logLines()).toEqual(expect.arrayContaining(['datasets a.png+a.txt', 'progress mode stdout token hidden', 'stderr line 5']));
    expect(gw.logLines().some((l) => l.includes('"ct"'))).toBe(false);
    expect(gw.objects.get('outputs/org/job-1/model.bin')?.toString()).toBe('weights');
    expect(gw.objects.has('outputs/org/job-1/checkpoints/c-2/m.json')).toBe(true);
    expect(gw.calls[0]?.body).toEqual({ labels: ['gpu'], gpus: [] });
    expect(existsSync(join(root, 'work', 'job-1'))).toBe(false);
  });

  it('reports failed with the exit code and the last output lines', async () => {
    await putPackage({ 'datasets/cats/a.png': 'png' });
    gw.jobs.push(job({ steps: 3, exit_code: 4 }));
    expect(await agent().run()).toBe(EXIT.jobFailed);
    const last = gw.reports().pop();
    expect(last).toMatchObject({ kind: 'failed', exitCode: 4 });
    expect(String(last?.message)).toMatch(/trainer exited with code 4[\s\S]*stderr line 3/);
    expect(gw.objects.has('outputs/org/job-1/model.bin')).toBe(true);
  });

  it('fails the job without running the trainer when the archive is unsafe', async () => {
    gw.objects.set('datasets/org/job-1.zip', buildRawZip([{ name: '../evil.txt', data: 'x' }]));
    gw.jobs.push(job({ steps: 3 }));
    expect(await agent().run()).toBe(EXIT.jobFailed);
    expect(gw.reports()).toEqual([expect.objectContaining({ kind: 'failed', message: expect.stringMatching(/refusing dataset archive/) })]);
    expect(existsSync(join(root, 'work', 'evil.txt'))).toBe(false);
  });

  it('stops the trainer on a cancel command and reports nothing more', async () => {
    await putPackage({ 'datasets/cats/a.png': 'png' });
    gw.jobs.push(job({ steps: 100_000, delay: 20 }));
    const running = agent().run();
    await until(() => gw.reports().some((r) => r.kind === 'started'));
    gw.commands.push({ type: 'cancel', jobId: 'job-1' });
    await running;
    expect(gw.reports().some((r) => r.kind === 'completed' || r.kind === 'failed')).toBe(false);
    expect(gw.logLines()).toContain('got SIGTERM');
    expect(gw.objects.has('outputs/org/job-1/model.bin')).toBe(false);
  });

  it('drops the job when the lease turns stale', async () => {
    await putPackage({ 'datasets/cats/a.png': 'png' });
    gw.jobs.push(job({ steps: 100_000, delay: 20 }));
    const running = agent().run();
    await until(() => gw.reports().some((r) => r.kind === 'started'));
    gw.staleLease = true;
    await running;
    expect(gw.reports().some((r) => r.kind === 'completed' || r.kind === 'failed')).toBe(false);
    expect(gw.objects.has('outputs/org/job-1/model.bin')).toBe(false);
  });

  it('exits with the unauthorized code when the token is rejected', async () => {
    expect(await agent({ token: 'rotated' }).run()).toBe(EXIT.unauthorized);
  });

  it('exits after the current job on drain, and at once on stop while idle', async () => {
    const idle = agent({ once: false });
    const running = idle.run();
    await until(() => gw.calls.some((c) => c.path === '/api/workers/claim'));
    gw.commands.push({ type: 'drain' });
    expect(await running).toBe(EXIT.ok);
    const stopped = agent({ once: false });
    const run2 = stopped.run();
    await until(() => gw.calls.filter((c) => c.path === '/api/workers/register').length === 2);
    stopped.stop('SIGTERM');
    expect(await run2).toBe(EXIT.ok);
  });
});
