import { PipeTransform } from '@nestjs/common';
import { DomainError } from '@ct/job-domain';
import type { z } from 'zod';

/** Validates a body or query with the shared zod schema; unknown fields are rejected by the schemas themselves. */
export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  /** A missing body or query is parsed as `{}`; a missing header (`header: true`) stays undefined. */
  constructor(private readonly schema: S, private readonly what = 'request', private readonly opts: { header?: boolean } = {}) {}

  transform(value: unknown): z.infer<S> {
    const parsed = this.schema.safeParse(value ?? (this.opts.header ? undefined : {}));
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    const summary = issues.slice(0, 3).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
    throw new DomainError('validation_failed', `The ${this.what} is invalid: ${summary}`, { issues });
  }
}
