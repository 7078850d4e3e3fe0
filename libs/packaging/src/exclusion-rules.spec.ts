import { EXCLUSION_REASONS, EXCLUSION_RULES, emptyExclusionCounts, exclusionReason, type ExclusionReason } from './exclusion-rules';

describe('exclusionReason', () => {
  const files: Array<[string, ExclusionReason | null]> = [
    ['.env', 'env_file'],
    ['a/b/.env.local', 'env_file'],
    ['.env.production', 'env_file'],
    ['.git/config', 'vcs'],
    ['deep/nested/.git/objects/ab/cdef', 'vcs'],
    ['sub/.hg/store', 'vcs'],
    ['x/.svn/entries', 'vcs'],
    ['x/secrets/id_rsa.pem', 'key_or_certificate'],
    ['x/cert.crt', 'key_or_certificate'],
    ['CERT.PEM', 'key_or_certificate'],
    ['tls/server.key', 'key_or_certificate'],
    ['store.p12', 'key_or_certificate'],
    ['store.pfx', 'key_or_certificate'],
    ['backup/id_rsa', 'key_or_certificate'],
    ['backup/id_ed25519.pub', 'key_or_certificate'],
    ['id_ecdsa', 'key_or_certificate'],
    ['id_dsa', 'key_or_certificate'],
    ['home/.ssh/known_hosts', 'credentials_dir'],
    ['a/.aws/credentials', 'credentials_dir'],
    ['.gnupg/pubring.kbx', 'credentials_dir'],
    ['.config/gcloud/creds.json', 'credentials_dir'],
    ['.docker/config.json', 'credentials_dir'],
    ['.kube/config', 'credentials_dir'],
    ['node_modules/a.png', 'dependencies'],
    ['tools/node_modules/pkg/index.js', 'dependencies'],
    ['venv/lib/x.py', 'virtualenv'],
    ['sub/.venv/bin/python', 'virtualenv'],
    ['virtualenv/lib/site.py', 'virtualenv'],
    ['.hidden/a.jpg', 'hidden'],
    ['img/.DS_Store', 'hidden'],
    ['.netrc', 'hidden'],
    ['img/a.jpg', null],
    ['captions/a.txt', null],
    ['my.env.jpg', null],
    ['keys.txt', null],
    ['env/a.jpg', null],
    ['venv.jpg', null],
    ['node_modules.txt', null],
    ['id_rsa_faces/readme.txt', null],
    ['a/b/c/d/e.webp', null],
  ];

  it.each(files)('file %s -> %s', (relPath, expected) => {
    expect(exclusionReason(relPath, false)).toBe(expected);
  });

  const directories: Array<[string, ExclusionReason | null]> = [
    ['.git', 'vcs'],
    ['a/node_modules', 'dependencies'],
    ['venv', 'virtualenv'],
    ['.venv', 'virtualenv'],
    ['a/.ssh', 'credentials_dir'],
    ['.cache', 'hidden'],
    ['images', null],
    ['certs.crt', null],
  ];

  it.each(directories)('directory %s -> %s', (relPath, expected) => {
    expect(exclusionReason(relPath, true)).toBe(expected);
  });

  it('accepts Windows separators so a client-side path cannot slip past the rules', () => {
    expect(exclusionReason('a\\.git\\config', false)).toBe('vcs');
  });

  it('names a reason for every rule and counts every reason', () => {
    for (const rule of EXCLUSION_RULES) expect(EXCLUSION_REASONS).toContain(rule.reason);
    expect(Object.keys(emptyExclusionCounts()).sort()).toEqual([...EXCLUSION_REASONS].sort());
  });
});
