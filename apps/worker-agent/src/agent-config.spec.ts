import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentConfigError, buildProgram, loadAgentConfig } from './agent-config';

const argv = (...args: string[]): string[] => ['node', 'main.js', ...args];

describe('loadAgentConfig', () => {
  it('parses flags, splits the trainer command and hides the token from trainers', () => {
    const c = loadAgentConfig(
      argv('--url', 'http://gw:3000/', '--token', 't0k', '--labels', 'a100, big', '--trainer-cmd', 'python "my trainer.py" --x', '--once'),
      { CT_WORKER_TOKEN: 'env-token', HOME: '/home/u' },
    );
    expect(c).toMatchObject({ url: 'http://gw:3000', token: 't0k', labels: ['a100', 'big'], once: true, cancelGraceMs: 10_000, logBatchMs: 500, outageWindowS: 600 });
    expect(c.trainerArgv).toEqual(['python', 'my trainer.py', '--x']);
    expect(c.trainerBaseEnv).toEqual({ HOME: '/home/u' });
  });

  it('takes --trainer-env (repeatable, comma lists) and --trainer-env-file, explaining mistakes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-cfg-'));
    try {
      writeFileSync(join(dir, 'trainer.env'), 'WANDB_API_KEY=k\n');
      const env = { HOME: '/h', A: '1', B_X: '2', C: '3', DATABASE_URL: 'pg' };
      const c = loadAgentConfig(argv('--url', 'http://gw', '--token', 't', '--trainer-env', 'A,B_*', '--trainer-env', 'C', '--trainer-env-file', join(dir, 'trainer.env')), env);
      expect(c.trainerBaseEnv).toEqual({ HOME: '/h', A: '1', B_X: '2', C: '3', WANDB_API_KEY: 'k' });
      expect(() => loadAgentConfig(argv('--url', 'http://gw', '--token', 't', '--trainer-env', 'A B'), {})).toThrow(/"A B" is not a variable name/);
      expect(() => loadAgentConfig(argv('--url', 'http://gw', '--token', 't', '--trainer-env-file', join(dir, 'missing')), {})).toThrow(/cannot read --trainer-env-file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the token from a file or the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ct-cfg-'));
    try {
      writeFileSync(join(dir, 'token'), 'file-token\n');
      expect(loadAgentConfig(argv('--url', 'http://gw', '--token-file', join(dir, 'token')), {}).token).toBe('file-token');
      expect(loadAgentConfig(argv('--url', 'http://gw'), { CT_WORKER_TOKEN: 'env-token' }).token).toBe('env-token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('defaults the trainer to the sample trainer', () => {
    const c = loadAgentConfig(argv('--url', 'http://gw', '--token', 't'), {});
    expect(c.trainerArgv[1]).toMatch(/examples\/sample-trainer\/dist\/main\.js$/);
  });

  it('takes the outage window in seconds, at least one', () => {
    expect(loadAgentConfig(argv('--url', 'http://gw', '--token', 't', '--outage-window-s', '90'), {}).outageWindowS).toBe(90);
    expect(() => loadAgentConfig(argv('--url', 'http://gw', '--token', 't', '--outage-window-s', '0.5'), {})).toThrow(/outageWindowS/);
  });

  it('explains what is wrong', () => {
    expect(() => loadAgentConfig(argv('--url', 'ftp://gw'), {})).toThrow(AgentConfigError);
    expect(() => loadAgentConfig(argv('--url', 'ftp://gw'), {})).toThrow(/url[\s\S]*token/);
    expect(() => loadAgentConfig(argv('--url', 'http://gw', '--token', 't', '--trainer-cmd', '"open'), {})).toThrow(/unterminated/);
  });

  it('describes the options as they really are, and recommends the token file', () => {
    // Whitespace folded: commander wraps descriptions to the terminal width.
    const help = buildProgram().helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('http://localhost:8001');
    expect(help).not.toMatch(/:3000|\bUI\b/);
    expect(help).toMatch(/--token-file <path> read the worker token from this file \(recommended\)/);
    expect(help).toMatch(/--token <token> worker token; visible to every user in `ps`/);
    expect(help).toMatch(/--claim-wait-ms[\s\S]*0 to 60000/);
    expect(() => loadAgentConfig(argv('--url', 'http://gw', '--token', 't', '--claim-wait-ms', '90000'), {})).toThrow(/claimWaitMs/);
  });
});
