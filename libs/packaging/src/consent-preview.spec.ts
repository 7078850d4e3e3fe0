import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consentDigest, consentPreviewOf, PREVIEW_EXCLUDED_LISTED } from './consent-preview';
import { planPackage } from './package-plan';

function dataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'consent-'));
  mkdirSync(join(dir, '.git'));
  writeFileSync(join(dir, '.git', 'HEAD'), 'ref');
  writeFileSync(join(dir, '.env'), 'TOKEN=x');
  writeFileSync(join(dir, 'a.jpg'), 'aaaa');
  writeFileSync(join(dir, 'b.jpg'), 'bbbb');
  return dir;
}

describe('consent preview and digest', () => {
  it('lists what is left out by name and reason, with the counts', async () => {
    const dir = dataset();
    const p = consentPreviewOf('replicate', await planPackage([{ id: 'set', dir }]));
    expect(p).toMatchObject({ provider: 'replicate', files: 2, bytes: 8 });
    expect(p.datasets[0]?.excludedFiles).toEqual([{ path: '.env', reason: 'env_file' }, { path: '.git', reason: 'vcs' }]);
    expect(p.datasets[0]?.excludedTotal).toBe(2);
  });

  it('caps the named exclusions; the counts still cover every one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'consent-many-'));
    for (let i = 0; i < PREVIEW_EXCLUDED_LISTED + 30; i++) writeFileSync(join(dir, `.hidden-${i}`), 'x');
    const p = consentPreviewOf('replicate', await planPackage([{ id: 'set', dir }]));
    expect(p.datasets[0]?.excludedFiles).toHaveLength(PREVIEW_EXCLUDED_LISTED);
    expect(p.datasets[0]?.excluded.hidden).toBe(PREVIEW_EXCLUDED_LISTED + 30);
  });

  it('is the same for the same files and changes with any file, its size, its mtime, or the provider', async () => {
    const dir = dataset();
    const digest = async (provider = 'replicate') => consentDigest(provider, await planPackage([{ id: 'set', dir }]));
    const first = await digest();
    expect(await digest()).toBe(first);
    expect(await digest('worker')).not.toBe(first);
    utimesSync(join(dir, 'a.jpg'), new Date(), new Date(Date.now() + 60_000));
    const touched = await digest();
    expect(touched).not.toBe(first);
    writeFileSync(join(dir, 'c.jpg'), 'c');
    expect(await digest()).not.toBe(touched);
    // An excluded file is not uploaded, so it does not change what the consent covers.
    const now = await digest();
    writeFileSync(join(dir, '.env.local'), 'SECRET=y');
    expect(await digest()).toBe(now);
  });
});
