import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentHarness } from '../test/agent-harness';
import type { S3Fault } from '../test/fake-s3';
import { EXIT } from './worker-agent.service';

/** Transient storage answers, in turn: what S3, an S3-compatible store or the gateway's proxy send when busy or down. */
const TRANSIENT: S3Fault[] = [{ status: 503, code: 'SlowDown' }, 'reset', { status: 503, code: 'ServiceUnavailable' }, { status: 429, code: 'TooManyRequests' }];
const OUTPUTS = ['outputs/org/job-1/model.bin', 'outputs/org/job-1/checkpoints/c-2/m.json'];

describe('WorkerAgent through gateway and storage outages', () => {
  jest.setTimeout(20_000);
  let h: AgentHarness;

  beforeEach(async () => {
    h = new AgentHarness();
    await h.start();
  });
  afterEach(() => h.stop());

  const kinds = (jobId = 'job-1'): unknown[] => h.gw.reports(jobId).map((r) => r.kind);
  const ended = (jobId: string, kind = 'completed') => (): boolean => kinds(jobId).includes(kind);
  const faults = (): number => h.s3.requests.filter((r) => r.outcome !== 'ok').length;
  const probes = (outcome: 'ok' | 'fault'): number => h.s3.requestsFor('', outcome).length;

  async function queue(...ids: string[]): Promise<void> {
    for (const id of ids) {
      await h.putPackage({ 'datasets/cats/a.png': 'png' }, id);
      h.gw.jobs.push(h.job({ steps: 3 }, id));
    }
  }

  it('retries the package download while storage is down, and claims no other job meanwhile', async () => {
    await queue('job-1', 'job-2', 'job-3');
    let down = true;
    let n = 0;
    h.s3.fault = (r) => (down && r.key.startsWith('datasets/') ? TRANSIENT[n++ % TRANSIENT.length]! : null);
    const agent = h.agent({ once: false });
    const running = agent.run();
    await h.until(() => faults() >= 6, 'download retried');
    expect(h.gw.claimed).toEqual(['job-1']);
    down = false;
    await h.until(() => ['job-1', 'job-2', 'job-3'].every((id) => ended(id)()), 'all three jobs completed');
    agent.stop('test over');
    expect(await running).toBe(EXIT.ok);
    expect(['job-1', 'job-2', 'job-3'].flatMap((id) => kinds(id)).filter((k) => k === 'failed')).toEqual([]);
    expect(h.gw.claimed).toEqual(['job-1', 'job-2', 'job-3']);
    expect(h.gw.logLines('job-1')).toContainEqual(expect.stringMatching(/^downloading the dataset package failed \(HTTP 503 SlowDown: fake SlowDown\); retrying for up to 30 s$/));
  });

  it('keeps the outputs until each is uploaded: sent files are not sent again, a broken multipart upload restarts', async () => {
    await queue('job-1');
    h.gw.jobs[0] = h.job({ steps: 3, big_mib: 11 });
    const big = 'outputs/org/job-1/big.bin';
    let resets = 0;
    let modelFailures = 0;
    h.s3.fault = (r) => {
      if (r.key === big && r.query.get('partNumber') === '2' && resets++ === 0) return 'reset';
      if (r.key === 'outputs/org/job-1/model.bin' && modelFailures++ < 3) return { status: 503, code: 'SlowDown' };
      return null;
    };
    expect(await h.agent({ multipartThresholdMib: 5, partSizeMib: 5 }).run()).toBe(EXIT.ok);
    expect(kinds().filter((k) => k === 'completed' || k === 'failed')).toEqual(['completed']);
    for (const key of [...OUTPUTS, big]) expect(h.s3.writes.get(key)).toBe(1);
    expect(h.s3.objects.get(big)?.length).toBe(11 * 1024 * 1024);
    expect(h.s3.requestsFor('outputs/org/job-1/checkpoints/c-2/m.json')).toHaveLength(1);
    expect(h.s3.requestsFor(big).filter((r) => r.query.has('uploads'))).toHaveLength(2);
    expect(h.s3.requestsFor('outputs/org/job-1/model.bin')).toHaveLength(4);
    expect(existsSync(join(h.workDir, 'job-1'))).toBe(false);
  });

  it('delivers every log line, the outputs and the report once when the gateway is down as the trainer ends', async () => {
    await queue('job-1');
    const hold = join(h.root, 'release');
    h.gw.jobs[0] = h.job({ steps: 20, hold });
    const agent = h.agent({ once: false });
    const running = agent.run();
    await h.until(ended('job-1', 'started'), 'trainer started');
    await h.gw.goDown();
    const failedBeats = h.logged('heartbeat failed').length;
    writeFileSync(hold, '');
    await h.until(() => OUTPUTS.every((k) => h.s3.writes.has(k)) && h.logged('heartbeat failed').length >= failedBeats + 2, 'outputs up, gateway still down');
    const before = h.gw.calls.length;
    await h.gw.comeBack();
    await h.until(ended('job-1'), 'completed reported');
    await h.until(() => h.gw.calls.slice(before).some((c) => c.path === '/api/workers/heartbeat'), 'heartbeats resumed');
    // The agent says so once the answer is back, a moment after the gateway saw the call: wait for that, not for the call.
    await h.until(() => h.logged('heartbeats delivered again').length > 0, 'the agent to notice heartbeats get through again');
    agent.stop('test over');
    await running;
    expect(kinds().filter((k) => k === 'completed')).toHaveLength(1);
    const stderr = h.gw.logLines('job-1').filter((l) => l.startsWith('stderr line '));
    expect(stderr).toEqual(Array.from({ length: 20 }, (_, i) => `stderr line ${i + 1}`));
    for (const key of OUTPUTS) expect(h.s3.writes.get(key)).toBe(1);
    expect(h.logged('heartbeats delivered again')).toHaveLength(1);
  });

  it('fails a job whose package stays unreachable for the whole window, then claims nothing until storage answers', async () => {
    await queue('job-1', 'job-2');
    let down = true;
    h.s3.fault = (r) => (down && (r.key === '' || r.key.startsWith('datasets/')) ? { status: 503, code: 'SlowDown' } : null);
    const agent = h.agent({ once: false, outageWindowS: 1 });
    const running = agent.run();
    await h.until(ended('job-1', 'failed'), 'job-1 failed');
    expect(h.gw.reports('job-1').pop()?.message).toMatch(
      /^job setup failed: download of datasets\/org\/job-1\.zip still failing after 1 s of retries: HTTP 503 SlowDown: fake SlowDown$/,
    );
    await h.until(() => probes('fault') >= 3, 'storage probed');
    expect(h.gw.claimed).toEqual(['job-1']);
    down = false;
    await h.until(ended('job-2'), 'job-2 completed once storage answered');
    agent.stop('test over');
    await running;
    expect(h.logged('storage answers again; claiming jobs')).toHaveLength(1);
  });

  it('fails at once on a permanent storage error, and goes on claiming', async () => {
    await queue('job-1', 'job-2');
    h.s3.fault = (r) => (r.key === 'datasets/org/job-1.zip' ? { status: 403, code: 'AccessDenied' } : null);
    const agent = h.agent({ once: false });
    const running = agent.run();
    await h.until(ended('job-2'), 'job-2 completed');
    agent.stop('test over');
    await running;
    expect(h.gw.reports('job-1')).toEqual([
      expect.objectContaining({ kind: 'failed', message: 'job setup failed: download of datasets/org/job-1.zip failed: HTTP 403 AccessDenied: fake AccessDenied' }),
    ]);
    expect(h.s3.requestsFor('datasets/org/job-1.zip')).toHaveLength(1);
    expect(probes('fault') + probes('ok')).toBe(0);
  });

  it('keeps a finished run\'s outputs on disk and says where when storage stays down for the whole window', async () => {
    await queue('job-1');
    h.s3.fault = (r) => (r.method === 'PUT' ? { status: 503, code: 'ServiceUnavailable' } : null);
    expect(await h.agent({ outageWindowS: 1 }).run()).toBe(EXIT.jobFailed);
    const kept = join(h.workDir, 'kept', 'job-1-fence3');
    const message = String(h.gw.reports().pop()?.message);
    expect(message).toMatch(/^uploading outputs failed: upload of outputs\/org\/job-1\/\S+ still failing after 1 s of retries: HTTP 503 ServiceUnavailable/);
    expect(message).toContain(`the outputs are kept on `);
    expect(message).toContain(` in ${join(kept, 'output')}; last output:`);
    expect(readFileSync(join(kept, 'output', 'model.bin'), 'utf8')).toBe('weights');
    expect(existsSync(join(h.workDir, 'job-1'))).toBe(false);
    expect(h.logged('outputs kept on disk: not all of them reached storage, or the job end was not reported; upload them by hand or delete the directory')).toEqual([
      expect.objectContaining({ outputs: join(kept, 'output'), jobId: 'job-1' }),
    ]);
  });

  it('keeps the outputs and logs where they are when the gateway cannot be told how the job ended', async () => {
    await queue('job-1');
    const hold = join(h.root, 'release');
    h.gw.jobs[0] = h.job({ steps: 3, hold });
    const running = h.agent({ outageWindowS: 1 }).run();
    await h.until(ended('job-1', 'started'), 'trainer started');
    await h.gw.goDown();
    writeFileSync(hold, '');
    expect(await running).toBe(EXIT.jobFailed);
    expect(h.logged('could not report how the job ended')).toEqual([expect.objectContaining({ err: expect.stringMatching(/^report completed still failing after 1 s/) })]);
    const kept = join(h.workDir, 'kept', 'job-1-fence3', 'output');
    expect(h.logged('outputs kept on disk: not all of them reached storage, or the job end was not reported; upload them by hand or delete the directory')).toEqual([
      expect.objectContaining({ outputs: kept }),
    ]);
    expect(readFileSync(join(kept, 'model.bin'), 'utf8')).toBe('weights');
    for (const key of OUTPUTS) expect(h.s3.writes.get(key)).toBe(1);
  });

  it('stops the trainer when the gateway comes back after an outage and another worker owns the job', async () => {
    await queue('job-1');
    h.gw.jobs[0] = h.job({ steps: 100_000, delay: 20 });
    const running = h.agent().run();
    await h.until(ended('job-1', 'started'), 'trainer started');
    await h.gw.goDown();
    const failedBeats = h.logged('heartbeat failed').length;
    await h.until(() => h.logged('heartbeat failed').length >= failedBeats + 2, 'heartbeats failing');
    h.gw.staleLease = true;
    await h.gw.comeBack();
    expect(await running).toBe(EXIT.jobFailed);
    expect(h.logged('job ended')).toEqual([expect.objectContaining({ outcome: 'lost' })]);
    expect(kinds().filter((k) => k === 'completed' || k === 'failed')).toEqual([]);
    expect(h.s3.writes.size).toBe(0);
  });

  it('drops a finished job whose lease turned out lost during the final delivery, keeping its outputs', async () => {
    await queue('job-1');
    const hold = join(h.root, 'release');
    h.gw.jobs[0] = h.job({ steps: 3, hold });
    const running = h.agent().run();
    await h.until(ended('job-1', 'started'), 'trainer started');
    await h.gw.goDown();
    writeFileSync(hold, '');
    await h.until(() => OUTPUTS.every((k) => h.s3.writes.has(k)), 'outputs uploaded');
    h.gw.staleLease = true;
    await h.gw.comeBack();
    expect(await running).toBe(EXIT.jobFailed);
    expect(h.logged('job ended')).toEqual([expect.objectContaining({ outcome: 'lost' })]);
    expect(kinds().filter((k) => k === 'completed' || k === 'failed')).toEqual([]);
    expect(existsSync(join(h.workDir, 'kept', 'job-1-fence3', 'output', 'model.bin'))).toBe(true);
  });
});
