import { parseEnvPatterns, parseTrainerEnvFile, selectTrainerEnv } from './trainer-env.util';

const AGENT_ENV = {
  PATH: '/bin', HOME: '/root', LC_CTYPE: 'C', CUDA_VISIBLE_DEVICES: '1', NVIDIA_VISIBLE_DEVICES: 'all', VIRTUAL_ENV: '/venv',
  CONDA_PREFIX: '/conda', TRANSFORMERS_CACHE: '/c', DATABASE_URL: 'postgres://x', REDIS_URL: 'redis://x', AWS_ACCESS_KEY_ID: 'AK',
  AWS_SECRET_ACCESS_KEY: 's', HF_TOKEN: 'hf', HUGGING_FACE_HUB_TOKEN: 'hf', NVIDIA_API_KEY: 'ngc', CT_WORKER_TOKEN: 't', CT_WORKER_URL: 'u',
  WANDB_API_KEY: 'w', WANDB_PROJECT: 'p', HTTPS_PROXY: 'http://user:pw@proxy',
};

describe('trainer environment', () => {
  it('passes what a GPU trainer needs and nothing else by default', () => {
    expect(selectTrainerEnv(AGENT_ENV, [])).toEqual({
      PATH: '/bin', HOME: '/root', LC_CTYPE: 'C', CUDA_VISIBLE_DEVICES: '1', NVIDIA_VISIBLE_DEVICES: 'all', VIRTUAL_ENV: '/venv',
      CONDA_PREFIX: '/conda', TRANSFORMERS_CACHE: '/c',
    });
  });

  it('adds the operator\'s names and prefixes, credential-like ones included, but never CT_*', () => {
    const env = selectTrainerEnv(AGENT_ENV, parseEnvPatterns(['WANDB_*', 'NVIDIA_API_KEY,HTTPS_PROXY', 'CT_*']));
    expect(env).toMatchObject({ WANDB_API_KEY: 'w', WANDB_PROJECT: 'p', NVIDIA_API_KEY: 'ngc', HTTPS_PROXY: 'http://user:pw@proxy' });
    expect(Object.keys(env).filter((k) => k.startsWith('CT_') || k === 'DATABASE_URL')).toEqual([]);
    expect(Object.keys(selectTrainerEnv(AGENT_ENV, ['*'])).sort()).toEqual(Object.keys(AGENT_ENV).filter((k) => !k.startsWith('CT_')).sort());
  });

  it('refuses patterns that are not variable names', () => {
    expect(() => parseEnvPatterns(['OK', 'NOT-OK'])).toThrow(/"NOT-OK" is not a variable name/);
    expect(() => parseEnvPatterns(['A*B'])).toThrow(/not a variable name/);
    expect(parseEnvPatterns([' A , B_* ', ''])).toEqual(['A', 'B_*']);
  });

  it('reads NAME=value files and refuses the contract\'s namespace', () => {
    expect(parseTrainerEnvFile('# keys\nWANDB_API_KEY=abc\nexport HF_TOKEN="hf x"\n', 'f')).toEqual({ WANDB_API_KEY: 'abc', HF_TOKEN: 'hf x' });
    expect(() => parseTrainerEnvFile('CT_JOB_ID=x\n', 'f')).toThrow(/CT_JOB_ID is reserved/);
  });
});
