import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { AwsChunkedDecoder } from './aws-chunked';

const crc32b64 = (b: Buffer): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b) >>> 0);
  return out.toString('base64');
};

/** aws-chunked framing as the AWS SDK writes it, cut into network packets of `packet` bytes. */
function encode(data: Buffer, chunkSize: number, trailer: string | null): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) {
    const c = data.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n'));
  if (trailer !== null) parts.push(Buffer.from(`${trailer}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

async function decode(encoded: Buffer, trailerName?: string, packet = 7): Promise<Buffer> {
  const packets: Buffer[] = [];
  for (let i = 0; i < encoded.length; i += packet) packets.push(encoded.subarray(i, i + packet));
  const out: Buffer[] = [];
  for await (const c of Readable.from(packets).pipe(new AwsChunkedDecoder(trailerName))) out.push(c as Buffer);
  return Buffer.concat(out);
}

describe('AwsChunkedDecoder', () => {
  const data = randomBytes(200_003);

  it('decodes chunks split across packets at any point and checks the CRC32 trailer', async () => {
    for (const packet of [1, 7, 8192, 1 << 20]) {
      const encoded = encode(data, 65_536, `x-amz-checksum-crc32:${crc32b64(data)}`);
      expect((await decode(encoded, 'x-amz-checksum-crc32', packet)).equals(data)).toBe(true);
    }
  });

  it('accepts a body without a trailer when none was announced', async () => {
    expect((await decode(encode(data, 8192, null))).equals(data)).toBe(true);
  });

  it('fails on a trailer that does not match, a missing trailer, a truncated body and bad framing', async () => {
    await expect(decode(encode(data, 65_536, 'x-amz-checksum-crc32:AAAAAA=='), 'x-amz-checksum-crc32')).rejects.toMatchObject({ details: { s3Code: 'BadDigest' } });
    await expect(decode(encode(data, 65_536, null), 'x-amz-checksum-crc32')).rejects.toMatchObject({ details: { s3Code: 'InvalidRequest' } });
    const whole = encode(data, 65_536, null);
    await expect(decode(whole.subarray(0, whole.length - 40))).rejects.toMatchObject({ details: { s3Code: 'IncompleteBody' } });
    await expect(decode(Buffer.from('zz\r\nhello\r\n0\r\n\r\n'))).rejects.toMatchObject({ details: { s3Code: 'InvalidRequest' } });
    await expect(decode(Buffer.from('3\r\nhello\r\n0\r\n\r\n'))).rejects.toMatchObject({ details: { s3Code: 'InvalidRequest' } });
  });
});
