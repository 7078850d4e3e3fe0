import type { ReferenceObject, SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { apiRequestSchemas, apiResponseSchemas, type ApiSchemaMeta } from '@ct/contracts';
import { z } from 'zod';

/**
 * zod 4 → OpenAPI 3.0 with zod's own converter (`z.toJSONSchema`, target `openapi-3.0`), handed to
 * @nestjs/swagger's decorators as plain schema objects.
 *
 * Why not nestjs-zod's DTO classes: they pass each schema through @nestjs/swagger's per-property model
 * metadata and rebuild it afterwards (`cleanupOpenApiDoc`), and on our schemas that documented a
 * `z.string().nullable()` response field as an array of strings in the 3.0 document; DTO classes also could
 * not live in libs/contracts (it is shared with the web UI and the CLI, which have no NestJS), and headers,
 * path parameters and SSE payloads would still need `z.toJSONSchema`. One converter for everything, owned
 * by the library the schemas are written in, is the simpler and more faithful path.
 */

export type Io = 'input' | 'output';
export type OpenApiSchema = SchemaObject | ReferenceObject;

const registries: Record<Io, z.core.$ZodRegistry<ApiSchemaMeta>> = { input: apiRequestSchemas, output: apiResponseSchemas };
const COMPONENTS = '#/components/schemas/';

/**
 * OpenAPI 3.0 wants `null` in the `enum` of a nullable enum (3.0.3 made `nullable` not widen an `enum`), and
 * zod leaves it out: without it a validator refuses the null the schema allows.
 */
function nullInNullableEnums<T>(value: T): T {
  if (Array.isArray(value)) value.forEach(nullInNullableEnums);
  else if (value && typeof value === 'object') {
    const s = value as { nullable?: boolean; enum?: unknown[] };
    if (s.nullable && Array.isArray(s.enum) && !s.enum.includes(null)) s.enum.push(null);
    Object.values(value).forEach(nullInNullableEnums);
  }
  return value;
}

function convert(schema: z.ZodType, io: Io): SchemaObject {
  // Unrepresentable parts (a refinement, a transform's output) are documented as "any value" rather than failing the boot.
  return nullInNullableEnums(z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as SchemaObject);
}

/** A named schema (libs/contracts' registries) as a `$ref` to its component; any other one inline. */
export function schemaOf(schema: z.ZodType, io: Io): OpenApiSchema {
  const id = registries[io].get(schema)?.id;
  return id ? { $ref: `${COMPONENTS}${id}` } : convert(schema, io);
}

/** One OpenAPI parameter per field of a query object, with its own schema and whether it may be left out. */
export function queryParameters(schema: z.ZodObject): Array<{ name: string; required: boolean; description?: string; schema: SchemaObject }> {
  const object = convert(schema, 'input');
  const required = new Set(object.required ?? []);
  return Object.entries(object.properties ?? {}).map(([name, field]) => {
    const { description, ...fieldSchema } = field as SchemaObject;
    return { name, required: required.has(name), ...(description ? { description } : {}), schema: fieldSchema };
  });
}

/** An inline schema without its `description`, which OpenAPI wants on the parameter itself. */
export function parameterSchema(schema: z.ZodType): { schema: SchemaObject; description?: string } {
  const { description, ...rest } = convert(schema, 'input');
  return { schema: rest, ...(description ? { description } : {}) };
}

/**
 * `components.schemas` of every named request and response schema. Each registry is converted with its
 * own `io`; references between named schemas become `$ref`s to their components.
 */
export function schemaComponents(): Record<string, SchemaObject> {
  const out: Record<string, SchemaObject> = {};
  for (const io of ['input', 'output'] as const) {
    const { schemas } = z.toJSONSchema(registries[io], { target: 'openapi-3.0', io, unrepresentable: 'any', uri: (id) => `${COMPONENTS}${id}` });
    for (const [id, schema] of Object.entries(schemas)) {
      // `$id` is JSON Schema's, not OpenAPI 3.0's; a `__shared` entry would only appear for schemas reused by reference.
      if (id === '__shared') throw new Error('an API schema refers to an unnamed schema by reference; name it in libs/contracts');
      if (out[id]) throw new Error(`${id} is both a request and a response schema; give them different names`);
      const { $id: _id, ...body } = schema as SchemaObject & { $id?: string };
      out[id] = nullInNullableEnums(body as SchemaObject);
    }
  }
  return out;
}
