import { CanActivate, ExecutionContext, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError } from '@ct/job-domain';
import { OrgRepository, WorkerRepository, type Principal, type Worker } from '@ct/persistence';
import type { Request } from 'express';
import { Public, PUBLIC_ROUTE } from '@ct/service';

export const ADMIN = 'ct:admin';
export const WORKER = 'ct:worker';
/** No API key needed (health, metrics, webhooks, the worker protocol which has its own token). */
export { Public };
export const AdminOnly = () => SetMetadata(ADMIN, true);
export const WorkerAuth = () => SetMetadata(WORKER, true);

type AuthedRequest = Request & { principal?: Principal; worker?: Worker };

export function bearerOrApiKey(req: Request): string | null {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const key = req.headers['x-api-key'];
  return typeof key === 'string' && key ? key.trim() : null;
}

/** API keys (`Authorization: Bearer` or `X-API-Key`) for users; worker tokens for the worker protocol. */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector, private readonly orgs: OrgRepository, private readonly workers: WorkerRepository) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const flag = <T>(key: string) => this.reflector.getAllAndOverride<T>(key, [ctx.getHandler(), ctx.getClass()]);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const workerRoute = flag<boolean>(WORKER);
    if (flag<boolean>(PUBLIC_ROUTE) && !workerRoute) return true;
    const token = bearerOrApiKey(req);
    if (!token) throw new DomainError('unauthenticated', 'Send an API key as "Authorization: Bearer <key>" or "X-API-Key: <key>".');
    if (workerRoute) {
      const worker = await this.workers.authenticate(token);
      if (!worker) throw new DomainError('unauthenticated', 'The worker token is not valid (was it rotated or the worker deleted?).');
      req.worker = worker;
      return true;
    }
    const principal = await this.orgs.authenticate(token);
    if (!principal) throw new DomainError('unauthenticated', 'The API key is not valid or was revoked.');
    if (flag<boolean>(ADMIN) && principal.role !== 'admin') throw new DomainError('forbidden', 'This action needs an admin API key.');
    req.principal = principal;
    return true;
  }
}

export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!p) throw new DomainError('unauthenticated', 'No API key.');
  return p;
});

export const CurrentWorker = createParamDecorator((_: unknown, ctx: ExecutionContext): Worker => {
  const w = ctx.switchToHttp().getRequest<AuthedRequest>().worker;
  if (!w) throw new DomainError('unauthenticated', 'No worker token.');
  return w;
});
