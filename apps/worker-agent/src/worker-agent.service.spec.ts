import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentHarness } from '../test/agent-harness';
import { buildRawZip } from '../test/raw-zip.writer';
import { loadAgentConfig } from './agent-config';
import { EXIT } from './worker-agent.service';

describe('WorkerAgent against a fake gateway', () => {
  jest.setTimeout(15_000);
  let h: AgentHarness;

  beforeEach(async () => {
    h = new AgentHarness();
    await h.start();
  });
  afterEach(() => h.stop());

  it('runs a job: package, trainer, logs, progress, uploads, completed', async () => {
    await h.putPackage({ 'datasets/cats/a.png': 'png', 'datasets/cats/a.txt': 'a cat' });
    h.gw.jobs.push(h.job({ steps: 5 }));
    expect(await h.agent().run()).toBe(EXIT.ok);
    const kinds = h.gw.reports().map((r) => r.kind);
    expect(kinds[0]).toBe('started');
    expect(kinds[kinds.length - 1]).toBe('completed');
    expect(h.gw.reports().every((r) => r.fence === 3)).toBe(true);
    const lastProgress = h.gw.reports().filter((r) => r.kind === 'progress').pop();
    expect(lastProgress?.progress).toEqual({ step: 5, totalSteps: 5, loss: 0.2, checkpoint: 'checkpoints/c-2' });
    expect(h.gw.logLines()).toEqual(expect.arrayContaining(['datasets a.png+a.txt', 'progress mode stdout token hidden', 'stderr line 5']));
    expect(h.gw.logLines().some((l) => l.includes('"ct"'))).toBe(false);
    expect(h.s3.objects.get('outputs/org/job-1/model.bin')?.toString()).toBe('weights');
    expect(h.s3.objects.has('outputs/org/job-1/checkpoints/c-2/m.json')).toBe(true);
    expect(h.gw.calls[0]?.body).toEqual({ labels: ['gpu'], gpus: [] });
    expect(existsSync(join(h.workDir, 'job-1'))).toBe(false);
  });

  it('gives the trainer the contract variables and allow-listed ones, never the agent\'s secrets', async () => {
    const envFile = join(h.root, 'trainer.env');
    writeFileSync(envFile, 'WANDB_API_KEY=from-the-env-file\n');
    const agentEnv = {
      PATH: '/usr/bin:/bin', HOME: '/home/u', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', CUDA_VISIBLE_DEVICES: '0,1', HF_HOME: '/cache/hf',
      PYTHONPATH: '/opt/lib', MY_EXTRA: 'passed', CT_WORKER_TOKEN: 'good-token', CT_WORKER_URL: h.gw.url,
      DATABASE_URL: 'postgresql://u:pw@db/x', REDIS_URL: 'redis://:pw@r', AWS_SECRET_ACCESS_KEY: 'aws-secret',
      HF_TOKEN: 'hf_secret', MY_SECRET: 'shh', CUDA_API_TOKEN: 'looks-allowed-but-is-a-token',
    };
    const config = loadAgentConfig(['node', 'main.js', '--trainer-env', 'MY_EXTRA', '--trainer-env-file', envFile], agentEnv);
    await h.putPackage({ 'datasets/cats/a.png': 'png' });
    h.gw.jobs.push(h.job({ steps: 1, dump_env: true }));
    const agent = h.agent({ trainerBaseEnv: config.trainerBaseEnv });
    expect(await agent.run()).toBe(EXIT.ok);
    const env = JSON.parse(h.s3.objects.get('outputs/org/job-1/env.json')?.toString() ?? '{}') as Record<string, string>;
    const jobDir = join(h.workDir, 'job-1');
    expect(env).toEqual({
      PATH: '/usr/bin:/bin', HOME: '/home/u', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', CUDA_VISIBLE_DEVICES: '0,1', HF_HOME: '/cache/hf',
      PYTHONPATH: '/opt/lib', MY_EXTRA: 'passed', WANDB_API_KEY: 'from-the-env-file',
      CT_JOB_ID: 'job-1', CT_CONFIG_PATH: join(jobDir, 'config.json'), CT_DATALOADER_PATH: join(jobDir, 'dataloader.json'),
      CT_DATA_DIR: join(jobDir, 'data'), CT_OUTPUT_DIR: join(jobDir, 'output'), CT_PROGRESS: 'stdout',
    });
  });

  it('reports failed with the exit code and the last output lines', async () => {
    await h.putPackage({ 'datasets/cats/a.png': 'png' });
    h.gw.jobs.push(h.job({ steps: 3, exit_code: 4 }));
    expect(await h.agent().run()).toBe(EXIT.jobFailed);
    const last = h.gw.reports().pop();
    expect(last).toMatchObject({ kind: 'failed', exitCode: 4 });
    expect(String(last?.message)).toMatch(/trainer exited with code 4[\s\S]*stderr line 3/);
    expect(h.s3.objects.has('outputs/org/job-1/model.bin')).toBe(true);
  });

  it('fails the job without running the trainer when the archive is unsafe', async () => {
    h.s3.objects.set('datasets/org/job-1.zip', buildRawZip([{ name: '../evil.txt', data: 'x' }]));
    h.gw.jobs.push(h.job({ steps: 3 }));
    expect(await h.agent().run()).toBe(EXIT.jobFailed);
    expect(h.gw.reports()).toEqual([expect.objectContaining({ kind: 'failed', message: expect.stringMatching(/refusing dataset archive/) })]);
    expect(existsSync(join(h.workDir, 'evil.txt'))).toBe(false);
  });

  it('stops the trainer on a cancel command and reports nothing more', async () => {
    await h.putPackage({ 'datasets/cats/a.png': 'png' });
    h.gw.jobs.push(h.job({ steps: 100_000, delay: 20 }));
    const running = h.agent().run();
    await h.until(() => h.gw.reports().some((r) => r.kind === 'started'));
    h.gw.commands.push({ type: 'cancel', jobId: 'job-1' });
    await running;
    expect(h.gw.reports().some((r) => r.kind === 'completed' || r.kind === 'failed')).toBe(false);
    expect(h.gw.logLines()).toContain('got SIGTERM');
    expect(h.s3.objects.has('outputs/org/job-1/model.bin')).toBe(false);
  });

  it('drops the job when the lease turns stale', async () => {
    await h.putPackage({ 'datasets/cats/a.png': 'png' });
    h.gw.jobs.push(h.job({ steps: 100_000, delay: 20 }));
    const running = h.agent().run();
    await h.until(() => h.gw.reports().some((r) => r.kind === 'started'));
    h.gw.staleLease = true;
    await running;
    expect(h.gw.reports().some((r) => r.kind === 'completed' || r.kind === 'failed')).toBe(false);
    expect(h.s3.objects.has('outputs/org/job-1/model.bin')).toBe(false);
  });

  it('exits with the unauthorized code when the token is rejected', async () => {
    expect(await h.agent({ token: 'rotated' }).run()).toBe(EXIT.unauthorized);
  });

  it('exits after the current job on drain, and at once on stop while idle', async () => {
    const idle = h.agent({ once: false });
    const running = idle.run();
    await h.until(() => h.gw.calls.some((c) => c.path === '/api/workers/claim'));
    h.gw.commands.push({ type: 'drain' });
    expect(await running).toBe(EXIT.ok);
    const stopped = h.agent({ once: false });
    const run2 = stopped.run();
    await h.until(() => h.gw.calls.filter((c) => c.path === '/api/workers/register').length === 2);
    stopped.stop('SIGTERM');
    expect(await run2).toBe(EXIT.ok);
  });
});
