import { z } from 'zod';

/**
 * The named schemas of the HTTP API: each becomes `components.schemas.<id>` of the OpenAPI document, so a
 * generated client gets one named type per body. Requests and responses are two registries because the
 * document describes a request as the caller writes it (fields with a default may be left out) and a
 * response as the server produces it (every default filled in): zod converts each registry with its own `io`.
 */
export interface ApiSchemaMeta {
  id: string;
}
export const apiRequestSchemas = z.registry<ApiSchemaMeta>();
export const apiResponseSchemas = z.registry<ApiSchemaMeta>();

/** Names a request body; returns the schema itself. */
export function requestSchema<S extends z.ZodType>(id: string, schema: S): S {
  return named(apiRequestSchemas, id, schema);
}

/** Names a response body (or a Server-Sent Event); returns the schema itself. */
export function responseSchema<S extends z.ZodType>(id: string, schema: S): S {
  return named(apiResponseSchemas, id, schema);
}

function named<S extends z.ZodType>(registry: z.core.$ZodRegistry<ApiSchemaMeta>, id: string, schema: S): S {
  // A registry keeps the last schema of an id: a second one would silently replace the first in the document.
  if (registry._idmap.has(id)) throw new Error(`two API schemas are named ${id}`);
  registry.add(schema, { id });
  return schema;
}
