import { partSizeFor } from './minio-upload';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('partSizeFor', () => {
  it('keeps the configured part size while 10,000 parts of it hold the object', () => {
    expect(partSizeFor(8 * MiB, 20 * MiB, 0)).toBe(8 * MiB);
    expect(partSizeFor(8 * MiB, 8 * MiB * 10_000, 9_999)).toBe(8 * MiB);
  });

  it('grows to a whole number of MiB for a known object too large for 10,000 parts', () => {
    const size = partSizeFor(8 * MiB, 200 * GiB, 0);
    expect(size % MiB).toBe(0);
    expect(size * 10_000).toBeGreaterThanOrEqual(200 * GiB);
    expect((size - MiB) * 10_000).toBeLessThan(200 * GiB);
  });

  it('doubles every 1,000 parts for an unknown length, so 10,000 parts reach 5 TiB', () => {
    expect(partSizeFor(8 * MiB, undefined, 999)).toBe(8 * MiB);
    expect(partSizeFor(8 * MiB, undefined, 1000)).toBe(16 * MiB);
    let total = 0;
    for (let n = 0; n < 10_000; n++) total += partSizeFor(8 * MiB, undefined, n);
    expect(total).toBeGreaterThanOrEqual(5 * 1024 * GiB);
  });
});
