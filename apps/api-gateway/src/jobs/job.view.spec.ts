import { decodeCursor, encodeCursor } from './job.view';

describe('list cursors', () => {
  it('decode what they encode', () => {
    const c = { createdAt: new Date('2024-06-11T10:20:30.456Z'), id: '8a1c4e2f-0000-4000-8000-000000000001' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
  });

  it('refuse anything else, before it reaches the database', () => {
    const raw = (s: string) => Buffer.from(s).toString('base64url');
    for (const s of ['', 'not base64 at all', raw('2020-01-01T00:00:00.000Z'), raw('2020-01-01T00:00:00.000Z|a\u0000b'), raw('-200000-01-01T00:00:00.000Z|abc'),
      raw('+275760-09-13T00:00:00.000Z|abc'), raw('2020-13-45T00:00:00.000Z|abc'), raw('2020-01-01T00:00:00.000Z|../x'), raw(`2020-01-01T00:00:00.000Z|${'a'.repeat(101)}`)]) {
      expect(decodeCursor(s)).toBeNull();
    }
  });
});
