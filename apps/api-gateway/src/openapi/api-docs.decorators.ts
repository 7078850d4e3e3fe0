import { applyDecorators, Body, createParamDecorator, HttpCode, Param, Query, type ExecutionContext } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiParam, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { ContentObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { problemSchema } from '@ct/contracts';
import type { Request } from 'express';
import type { z } from 'zod';
import { PROBLEM_STATUS, type ProblemCode } from '../common/problem.filter';
import { ZodPipe } from '../common/zod.pipe';
import { parameterSchema, queryParameters, schemaOf } from './zod-openapi';

/**
 * Request decorators that validate with a libs/contracts schema and document that same schema, so what the
 * gateway checks and what the OpenAPI document says cannot drift apart; response decorators that document a
 * schema and (for handlers that return their body) make the compiler check the handler's return type against it.
 */

/** Puts method-level documentation on the method a parameter decorator is applied to. */
function onMethod(target: object, key: string | symbol | undefined, decorator: MethodDecorator): void {
  const descriptor = key === undefined ? undefined : Object.getOwnPropertyDescriptor(target, key);
  if (key === undefined || !descriptor) throw new Error('API parameter decorators belong on controller methods');
  decorator(target, key, descriptor);
}

/** The JSON body, validated (unknown fields rejected by the schema) and documented. */
export function ZodBody(schema: z.ZodType, what: string): ParameterDecorator {
  return (target, key, index) => {
    Body(new ZodPipe(schema, what))(target, key, index);
    onMethod(target, key, ApiBody({ required: true, schema: schemaOf(schema, 'input') }));
  };
}

/** The whole query string, validated by one object schema and documented field by field. */
export function ZodQuery(schema: z.ZodObject, what = 'query'): ParameterDecorator {
  return (target, key, index) => {
    Query(new ZodPipe(schema, what))(target, key, index);
    for (const p of queryParameters(schema)) onMethod(target, key, ApiQuery(p));
  };
}

/** One path parameter. */
export function ZodParam(name: string, schema: z.ZodType, what: string): ParameterDecorator {
  return (target, key, index) => {
    Param(name, new ZodPipe(schema, what))(target, key, index);
    onMethod(target, key, ApiParam({ name, required: true, ...parameterSchema(schema) }));
  };
}

/** Nest's own `@Headers(name)` takes no pipes; this one does. A missing header is `undefined`. */
const HeaderValue = createParamDecorator((name: string, ctx: ExecutionContext): unknown => ctx.switchToHttp().getRequest<Request>().headers[name.toLowerCase()]);

/** One request header (optional ones only: credentials are the security schemes' business). */
export function ZodHeader(name: string, schema: z.ZodType, what: string): ParameterDecorator {
  return (target, key, index) => {
    HeaderValue(name, new ZodPipe(schema, what, { header: true }))(target, key, index);
    onMethod(target, key, ApiHeader({ name, required: false, ...parameterSchema(schema) }));
  };
}

type Returning<T> = Pick<TypedPropertyDescriptor<(...args: never[]) => T | Promise<T>>, 'value'>;

/** The success answer of a handler that returns its body: status, schema, and a compile-time check of the return type. */
export function ApiJson<S extends z.ZodType>(status: number, schema: S, description: string) {
  return (target: object, key: string | symbol, descriptor: Returning<z.infer<S>>): void => {
    HttpCode(status)(target, key, descriptor);
    ApiResponse({ status, description, content: { 'application/json': { schema: schemaOf(schema, 'output') } } })(target, key, descriptor);
  };
}

/** A success answer without a body. */
export function ApiEmpty(status: 204, description: string) {
  return (target: object, key: string | symbol, descriptor: Returning<void>): void => {
    HttpCode(status)(target, key, descriptor);
    ApiResponse({ status, description })(target, key, descriptor);
  };
}

export interface Answer {
  status: number;
  description: string;
  json?: z.ZodType;
  /** Server-Sent Events: the schema of one event (`{event, id?, data}`). */
  sse?: z.ZodType;
  text?: z.ZodType;
}

/** The answers of a handler that writes the response itself (`@Res()`): SSE, long polls, content negotiation, status pages. */
export function ApiAnswers(...answers: Answer[]): MethodDecorator {
  return (target, key, descriptor) => {
    for (const a of answers) {
      const content: ContentObject = {
        ...(a.json ? { 'application/json': { schema: schemaOf(a.json, 'output') } } : {}),
        ...(a.sse ? { 'text/event-stream': { schema: schemaOf(a.sse, 'output') } } : {}),
        ...(a.text ? { 'text/plain': { schema: schemaOf(a.text, 'output') } } : {}),
      };
      ApiResponse({ status: a.status, description: a.description, ...(Object.keys(content).length ? { content } : {}) })(target, key, descriptor);
    }
  };
}

/** What every request can fail with: a URL, body or query that does not parse, is too large or in an unsupported encoding, or the job store briefly unreachable (503). */
const ALWAYS: readonly ProblemCode[] = ['validation_failed', 'malformed_json', 'bad_request', 'payload_too_large', 'unsupported_media_type', 'service_unavailable'];

/** Error answers (problem+json), one per status, each listing the codes it carries; `default` covers the rest (500). */
export function ApiProblems(...codes: ProblemCode[]): MethodDecorator {
  return problemResponses(byStatus([...ALWAYS, ...codes]), true);
}

/** Error answers of authentication, on a controller or a method: no `default`, so they add to an operation's ApiProblems. */
export function ApiAuthProblems(...codes: ProblemCode[]): MethodDecorator & ClassDecorator {
  return problemResponses(byStatus(codes), false);
}

/** Error answers with codes of the route's own (webhooks answer in their provider's terms), by status. */
export function ApiRouteProblems(codes: Readonly<Record<number, readonly string[]>>): MethodDecorator {
  const statuses = byStatus(ALWAYS);
  for (const [status, list] of Object.entries(codes)) statuses.set(Number(status), new Set([...(statuses.get(Number(status)) ?? []), ...list]));
  return problemResponses(statuses, true);
}

function byStatus(codes: readonly ProblemCode[]): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const code of codes) out.set(PROBLEM_STATUS[code], (out.get(PROBLEM_STATUS[code]) ?? new Set()).add(code));
  return out;
}

function problemResponses(statuses: Map<number, Set<string>>, withDefault: boolean): MethodDecorator & ClassDecorator {
  const content = { 'application/problem+json': { schema: schemaOf(problemSchema, 'output') } };
  const decorators = [...statuses].map(([status, set]) => ApiResponse({ status, description: [...set].map((c) => `\`${c}\``).join(', '), content }));
  if (withDefault) decorators.push(ApiResponse({ status: 'default', description: 'any other error, e.g. 500 `internal`', content }));
  return applyDecorators(...decorators);
}
