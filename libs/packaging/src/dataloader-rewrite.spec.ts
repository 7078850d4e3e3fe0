import { createWriteStream, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import yauzl from 'yauzl';
import { DomainError } from '@ct/job-domain';
import { packageDatasets } from './dataset-packager';
import { datasetIdOf, localDatasetsOf, rewriteDataloader, sanitiseDatasetId } from './dataloader-rewrite';

interface ZipEntryInfo {
  name: string;
  method: 'stored' | 'deflated';
}

function readZipEntries(file: string): Promise<ZipEntryInfo[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (openErr, zip) => {
      if (openErr || !zip) return reject(openErr ?? new Error('no zip'));
      const entries: ZipEntryInfo[] = [];
      zip.on('entry', (entry: yauzl.Entry) => {
        entries.push({ name: entry.fileName, method: entry.compressionMethod === 0 ? 'stored' : 'deflated' });
        zip.readEntry();
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('datasetIdOf / sanitiseDatasetId', () => {
  it.each([
    [{ id: 'faces' }, 0, 'faces'],
    [{ id: 'my set/v2' }, 1, 'my_set_v2'],
    [{ id: '../../etc' }, 2, '___.._etc'],
    [{ id: '..' }, 3, '__'],
    [{ id: '' }, 4, 'dataset-4'],
    [{ id: 42 }, 5, '42'],
    [{}, 6, 'dataset-6'],
    ['not an object', 7, 'dataset-7'],
  ])('%j at %i -> %s', (entry, index, expected) => {
    expect(datasetIdOf(entry, index)).toBe(expected);
  });

  it('never yields a hidden or traversing segment', () => {
    expect(sanitiseDatasetId('.hidden')).toBe('_hidden');
    expect(sanitiseDatasetId('ünïcödé')).toBe('_n_c_d_');
  });
});

describe('rewriteDataloader', () => {
  const config = [
    { id: 'faces', type: 'local', instance_data_dir: '/home/me/faces', resolution: 1024, crop: true },
    { id: 'text-embeds', type: 'local', dataset_type: 'text_embeds', cache_dir: 'cache/text' },
    { id: 'remote', type: 'aws', aws_bucket_name: 'b', instance_data_dir: 'should/stay' },
    { instance_data_dir: '/home/me/untyped' },
  ];
  const archived = [
    { id: 'faces', archivePrefix: 'datasets/faces' },
    { id: 'dataset-3', archivePrefix: 'datasets/dataset-3' },
  ];

  it('points local datasets at their archive folder under the extraction root', () => {
    const rewritten = rewriteDataloader(config, archived, '/workspace/data');
    expect(rewritten[0]).toEqual({ ...config[0], instance_data_dir: '/workspace/data/datasets/faces' });
    expect(rewritten[3]).toEqual({ instance_data_dir: '/workspace/data/datasets/dataset-3' });
  });

  it('leaves other entries and keys untouched and does not mutate the input', () => {
    const before = structuredClone(config);
    const rewritten = rewriteDataloader(config, archived, '');
    expect(rewritten[1]).toEqual(config[1]);
    expect(rewritten[2]).toEqual(config[2]);
    expect(rewritten[0]).not.toBe(config[0]);
    expect(config).toEqual(before);
  });

  it('gives relative archive paths with an empty root', () => {
    expect(rewriteDataloader(config, archived, '')[0]).toMatchObject({ instance_data_dir: 'datasets/faces' });
  });

  it('refuses to keep a local path for a dataset that was not packaged', () => {
    expect(() => rewriteDataloader(config, archived.slice(0, 1), '')).toThrow(DomainError);
  });

  it('finds the local datasets with the same ids', () => {
    expect(localDatasetsOf(config)).toEqual([
      { id: 'faces', dir: '/home/me/faces', index: 0 },
      { id: 'dataset-3', dir: '/home/me/untyped', index: 3 },
    ]);
  });
});

describe('zip path rewriting, end to end through a real archive', () => {
  let base: string;

  beforeAll(() => {
    base = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'ct-zip-')));
    const files: Record<string, string | Buffer> = {
      'faces/img/a.jpg': Buffer.alloc(4096, 7),
      'faces/img/a.txt': 'a photo of a face',
      'faces/.env': 'SECRET=1',
      'styles/b.png': Buffer.alloc(2048, 9),
      'styles/meta/b.json': '{"caption":"a style"}',
      'styles/weights.safetensors': Buffer.alloc(64, 1),
    };
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
      writeFileSync(path.join(base, rel), content);
    }
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('writes the expected entries, STORED vs DEFLATED, and the rewritten paths exist in the archive', async () => {
    const dataloader = [
      { id: 'faces', type: 'local', instance_data_dir: path.join(base, 'faces') },
      { id: 'text', type: 'local', dataset_type: 'text_embeds', cache_dir: 'cache' },
      { type: 'local', instance_data_dir: path.join(base, 'styles') },
    ];
    const zipPath = path.join(base, 'out.zip');
    const sink = createWriteStream(zipPath);
    const summary = await packageDatasets(localDatasetsOf(dataloader), sink);

    const entries = await readZipEntries(zipPath);
    expect(entries).toEqual([
      { name: 'datasets/faces/', method: 'stored' },
      { name: 'datasets/faces/img/a.jpg', method: 'stored' },
      { name: 'datasets/faces/img/a.txt', method: 'deflated' },
      { name: 'datasets/dataset-2/', method: 'stored' },
      { name: 'datasets/dataset-2/b.png', method: 'stored' },
      { name: 'datasets/dataset-2/meta/b.json', method: 'deflated' },
      { name: 'datasets/dataset-2/weights.safetensors', method: 'stored' },
    ]);
    expect(summary).toMatchObject({ files: 5, bytes: 4096 + 17 + 2048 + 21 + 64 });
    expect(summary.datasets[0]).toMatchObject({ id: 'faces', path: path.join(base, 'faces'), files: 2 });
    expect(summary.datasets[0]?.excluded.env_file).toBe(1);

    const rewritten = rewriteDataloader(dataloader, summary.datasets, '/data');
    const names = new Set(entries.map((e) => e.name));
    for (const entry of [rewritten[0], rewritten[2]]) {
      const dir = (entry as { instance_data_dir: string }).instance_data_dir;
      expect(names.has(`${path.posix.relative('/data', dir)}/`)).toBe(true);
    }
    expect(rewritten[1]).toEqual(dataloader[1]);
  });
});
