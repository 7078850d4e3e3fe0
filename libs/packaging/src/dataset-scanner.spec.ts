import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scanDataset } from './dataset-scanner';
import { emptyExclusionCounts } from './exclusion-rules';

function write(root: string, relPath: string, content: string | Buffer = 'x'): void {
  mkdirSync(path.dirname(path.join(root, relPath)), { recursive: true });
  writeFileSync(path.join(root, relPath), content);
}

describe('scanDataset on a real folder', () => {
  let base: string;
  let ds: string;
  let outside: string;

  beforeAll(() => {
    base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'ct-scan-')));
    ds = path.join(base, 'dataset');
    outside = path.join(base, 'outside');
    write(outside, 'secret.txt', 'do not upload');
    write(outside, 'dir/leak.jpg', 'do not upload');

    write(ds, 'img/a.jpg', Buffer.alloc(1000, 1));
    write(ds, 'img/a.txt', 'a caption');
    write(ds, 'img/b.png', Buffer.alloc(500, 2));
    write(ds, 'img/b.txt', 'b caption');
    write(ds, 'img/.DS_Store');
    write(ds, 'captions/c.txt', 'c caption');
    write(ds, 'my.env.jpg', Buffer.alloc(10, 3));
    write(ds, '.env', 'TOKEN=1');
    write(ds, 'nested/.env.local', 'TOKEN=2');
    write(ds, '.git/config');
    write(ds, '.git/objects/ab/cdef');
    write(ds, 'nested/secrets/id_rsa.pem');
    write(ds, 'nested/secrets/notes.txt', 'kept');
    write(ds, 'node_modules/pkg/a.png');
    write(ds, '.venv/bin/python');
    write(ds, 'py311/pyvenv.cfg');
    write(ds, 'py311/lib/site.py');
    write(ds, '.hidden/a.jpg');

    symlinkSync(path.join(outside, 'secret.txt'), path.join(ds, 'img', 'outside-file.txt'));
    symlinkSync(path.join(outside, 'dir'), path.join(ds, 'outside-dir'));
    symlinkSync(path.join(ds, 'img', 'a.jpg'), path.join(ds, 'linked.jpg'));
    symlinkSync(path.join(ds, 'captions'), path.join(ds, 'linked-captions'));
    symlinkSync(ds, path.join(ds, 'captions', 'loop'));
    symlinkSync(path.join(ds, '.env'), path.join(ds, 'innocent.txt'));
    symlinkSync(path.join(ds, 'missing'), path.join(ds, 'broken'));
    execFileSync('mkfifo', [path.join(ds, 'img', 'pipe')]);
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('keeps exactly the allowed files, sorted, with posix relative paths', async () => {
    const scan = await scanDataset(ds);
    expect(scan.files.map((f) => f.relPath)).toEqual([
      'captions/c.txt',
      'img/a.jpg',
      'img/a.txt',
      'img/b.png',
      'img/b.txt',
      'linked-captions/c.txt',
      'linked.jpg',
      'my.env.jpg',
      'nested/secrets/notes.txt',
    ]);
  });

  it('reads followed links from their real path and reports sizes', async () => {
    const scan = await scanDataset(ds);
    const linked = scan.files.find((f) => f.relPath === 'linked.jpg');
    expect(linked).toMatchObject({ absPath: path.join(ds, 'img', 'a.jpg'), size: 1000 });
    expect(scan.bytes).toBe(scan.files.reduce((sum, f) => sum + f.size, 0));
    expect(scan.dir).toBe(ds);
  });

  it('counts exclusions per reason, each excluded folder once', async () => {
    const scan = await scanDataset(ds);
    expect(scan.excluded).toEqual({
      ...emptyExclusionCounts(),
      env_file: 3, // .env, nested/.env.local, innocent.txt -> .env
      vcs: 1,
      key_or_certificate: 1,
      dependencies: 1,
      virtualenv: 2, // .venv by name, py311 by its pyvenv.cfg
      hidden: 2, // img/.DS_Store, .hidden
      symlink_outside: 2, // to a file and to a folder
      symlink_cycle: 2, // captions/loop, reached directly and through linked-captions
      special_file: 1,
      unreadable: 1, // the broken link
    });
  });

  it('lists the same files in the same order every time', async () => {
    const [first, second] = await Promise.all([scanDataset(ds), scanDataset(ds)]);
    expect(second.files).toEqual(first.files);
  });

  it('handles a folder tree deeper than a recursive walk would like', async () => {
    const deep = path.join(base, 'deep');
    const rel = Array.from({ length: 200 }, (_, i) => `d${i}`).join('/');
    write(deep, `${rel}/leaf.txt`, 'leaf');
    const scan = await scanDataset(deep);
    expect(scan.files.map((f) => f.relPath)).toEqual([`${rel}/leaf.txt`]);
  });
});
