import { BadRequestException, NotFoundException } from '@nestjs/common';
import { DomainError } from '@ct/job-domain';
import { problemOf } from './problem.filter';

/** What body-parser throws (http-errors): a status, `expose` for client errors, and a `type`. */
const bodyParserError = (status: number, message: string, props: { type?: string }) => Object.assign(new Error(message), { status, statusCode: status, expose: status < 500, ...props });

describe('problemOf', () => {
  it('answers a domain error with its code, status and validation issues', () => {
    const issues = [{ path: 'config', message: 'Required' }];
    expect(problemOf(new DomainError('validation_failed', 'The job submission is invalid', { issues }))).toEqual({
      type: 'urn:ct:error:validation_failed', title: 'validation failed', status: 400, code: 'validation_failed', detail: 'The job submission is invalid', errors: issues,
    });
    expect(problemOf(new DomainError('stale_lease', 'no longer yours'))).toMatchObject({ status: 409, code: 'stale_lease' });
  });

  it.each([
    ['entity.parse.failed', 400, 400, 'malformed_json'],
    ['entity.too.large', 413, 413, 'payload_too_large'],
    ['charset.unsupported', 415, 415, 'unsupported_media_type'],
    ['encoding.unsupported', 415, 415, 'unsupported_media_type'],
    [undefined, 400, 400, 'bad_request'], // a gzip body that does not inflate
    ['request.aborted', 400, 400, 'bad_request'],
    ['request.size.invalid', 400, 400, 'bad_request'],
  ])("answers body-parser's %s with %i", (type, status, answered, code) => {
    const p = problemOf(bodyParserError(status, 'the internals speak here', type ? { type } : {}));
    expect(p).toMatchObject({ status: answered, code, type: `urn:ct:error:${code}` });
    expect(p.detail).not.toContain('internals');
  });

  it("answers Nest's own errors: an undecodable path is a 400, an unknown route a 404", () => {
    expect(problemOf(new BadRequestException("Failed to decode param '%E0%A4%A'"))).toMatchObject({ status: 400, code: 'bad_request' });
    expect(problemOf(new NotFoundException('Cannot GET /nope'))).toMatchObject({ status: 404, code: 'route_not_found' });
  });

  it('answers an unreachable database as 503, which clients retry, saying nothing of its address', () => {
    for (const err of [new Error('connect ECONNREFUSED 127.0.0.1:5432'), Object.assign(new Error('x'), { code: 'P1001' }), new Error('wrapped', { cause: Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }) })]) {
      expect(problemOf(err)).toEqual({ type: 'urn:ct:error:service_unavailable', title: 'service unavailable', status: 503, code: 'service_unavailable', detail: 'The job store is briefly unreachable; try again in a few seconds.' });
    }
  });

  it('answers anything else as 500 internal, saying nothing of it', () => {
    for (const err of [new Error('relation "jobs" does not exist /var/run/postgres'), new SyntaxError('Cannot convert x to a BigInt'), Object.assign(new Error('x'), { status: 400 }), null]) {
      expect(problemOf(err)).toEqual({ type: 'urn:ct:error:internal', title: 'internal error', status: 500, code: 'internal', detail: 'Something went wrong on our side; the error was logged.' });
    }
  });
});
