import type { ClaimedJob } from '@ct/contracts';
import archiver from 'archiver';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { AgentConfig } from '../src/agent-config';
import { GatewayClient } from '../src/gateway-client.service';
import { WorkerAgent } from '../src/worker-agent.service';
import { FakeGateway } from './fake-gateway';
import { FakeS3 } from './fake-s3';

/**
 * A stand-in trainer honouring the contract: reads the env files, prints progress, writes outputs.
 * Config switches: steps, delay, exit_code, dump_env (writes its environment to env.json), big_mib (a file
 * large enough for a multipart upload), hold (a path: the trainer exits only once that file exists).
 */
export const TRAINER = `
const fs = require('fs'), path = require('path');
const cfg = JSON.parse(fs.readFileSync(process.env.CT_CONFIG_PATH, 'utf8'));
const dl = JSON.parse(fs.readFileSync(process.env.CT_DATALOADER_PATH, 'utf8'));
console.log('datasets ' + dl.map((d) => fs.readdirSync(d.instance_data_dir).sort().join('+')).join(','));
console.log('progress mode ' + process.env.CT_PROGRESS + ' token ' + (process.env.CT_WORKER_TOKEN || 'hidden'));
const out = process.env.CT_OUTPUT_DIR;
fs.mkdirSync(path.join(out, 'checkpoints', 'c-2'), { recursive: true });
fs.writeFileSync(path.join(out, 'model.bin'), 'weights');
fs.writeFileSync(path.join(out, 'checkpoints', 'c-2', 'm.json'), '{}');
if (cfg.dump_env) fs.writeFileSync(path.join(out, 'env.json'), JSON.stringify(process.env));
if (cfg.big_mib) fs.writeFileSync(path.join(out, 'big.bin'), Buffer.alloc(cfg.big_mib * 1024 * 1024, 7));
process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(143); });
let step = 0;
const total = cfg.steps;
const end = () => (cfg.hold && !fs.existsSync(cfg.hold) ? setTimeout(end, 10) : process.exit(cfg.exit_code || 0));
const timer = setInterval(() => {
  step++;
  console.log(JSON.stringify({ ct: 'progress', step, total_steps: total, loss: 1 / step }));
  console.error('stderr line ' + step);
  if (step === 2) console.log(JSON.stringify({ ct: 'checkpoint', step, path: 'checkpoints/c-2' }));
  if (step >= total) { clearInterval(timer); end(); }
}, cfg.delay || 5);
`;

export interface AgentLogLine {
  msg?: string;
  [field: string]: unknown;
}

/** One fake gateway, one fake S3 endpoint, a work directory and a trainer script per test. */
export class AgentHarness {
  readonly gw = new FakeGateway();
  readonly s3 = new FakeS3();
  readonly root = mkdtempSync(join(tmpdir(), 'ct-agent-'));
  readonly trainerFile = join(this.root, 'trainer.js');
  readonly workDir = join(this.root, 'work');
  /** everything the agent logged, parsed */
  readonly agentLogs: AgentLogLine[] = [];

  async start(): Promise<void> {
    writeFileSync(this.trainerFile, TRAINER);
    await Promise.all([this.gw.start(), this.s3.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.gw.stop(), this.s3.stop()]);
    rmSync(this.root, { recursive: true, force: true });
  }

  async putPackage(files: Record<string, string>, jobId = 'job-1'): Promise<void> {
    const zip = archiver('zip');
    const chunks: Buffer[] = [];
    zip.on('data', (c: Buffer) => chunks.push(c));
    for (const [name, data] of Object.entries(files)) zip.append(data, { name });
    await zip.finalize();
    this.s3.objects.set(`datasets/org/${jobId}.zip`, Buffer.concat(chunks));
  }

  job(config: Record<string, unknown>, jobId = 'job-1'): ClaimedJob {
    return {
      jobId,
      fence: 3,
      name: 'test job',
      config,
      dataloader: [{ id: 'cats', type: 'local', instance_data_dir: 'datasets/cats' }],
      storage: {
        endpoint: this.s3.url,
        region: 'us-east-1',
        accessKeyId: 'AKJOB',
        secretAccessKey: 'secret',
        packageBucket: 'datasets',
        packageKey: `org/${jobId}.zip`,
        outputBucket: 'outputs',
        outputPrefix: `org/${jobId}`,
      },
      leaseTtlMs: 5000,
    };
  }

  /** An agent with short backoff delays (20 ms doubling up to 200 ms), so an outage test takes seconds. */
  agent(overrides: Partial<AgentConfig> = {}): WorkerAgent {
    const config: AgentConfig = {
      url: this.gw.url,
      token: 'good-token',
      labels: ['gpu'],
      workDir: this.workDir,
      trainerArgv: [process.execPath, this.trainerFile],
      once: true,
      cancelGraceMs: 1000,
      logBatchMs: 50,
      claimWaitMs: 100,
      keepJobDirs: false,
      multipartThresholdMib: 256,
      partSizeMib: 64,
      outageWindowS: 30,
      logLevel: 'debug',
      trainerBaseEnv: {},
      ...overrides,
    };
    const logger = pino({ level: 'debug' }, { write: (line: string) => void this.agentLogs.push(JSON.parse(line) as AgentLogLine) });
    const gateway = new GatewayClient(this.gw.url, config.token);
    return new WorkerAgent({ config, logger, gateway, registration: { labels: config.labels, gpus: [] }, retryDelays: { baseDelayMs: 20, maxDelayMs: 200 } });
  }

  /** Log lines of the agent with this message. */
  logged(msg: string): AgentLogLine[] {
    return this.agentLogs.filter((l) => l.msg === msg);
  }

  async until(predicate: () => boolean, what = 'condition', timeoutMs = 8000): Promise<void> {
    const t0 = Date.now();
    while (!predicate()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
