import type { IncomingMessage } from 'node:http';
import type { SimReply } from './sim-http.util';
import type { SimAccount } from './replicate-sim.types';

export interface RouteContext {
  req: IncomingMessage;
  url: URL;
  /** path parameters in template order */
  params: string[];
  /** the authenticated account; set on every route declared with `auth: true` */
  account: SimAccount;
}

export interface SimRoute {
  method: string;
  /** e.g. `/v1/predictions/:id`; also the key of the per-route request counters */
  template: string;
  re: RegExp;
  auth: boolean;
  handler: (ctx: RouteContext) => Promise<SimReply>;
}

export function route(method: string, template: string, handler: SimRoute['handler'], opts: { auth?: boolean } = {}): SimRoute {
  const re = new RegExp(`^${template.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[a-z_]+/g, '([^/]+)')}/?$`);
  return { method, template, re, auth: opts.auth ?? true, handler };
}

export type RouteMatch = { route: SimRoute; params: string[] } | { route: null; methodMismatch: boolean };

export function matchRoute(routes: SimRoute[], method: string, path: string): RouteMatch {
  let methodMismatch = false;
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    if (r.method !== method) {
      methodMismatch = true;
      continue;
    }
    return { route: r, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return { route: null, methodMismatch };
}
