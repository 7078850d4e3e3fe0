import { apiRequestSchemas, apiResponseSchemas, jobSchema, providerConfigSchema, requestSchema, submitJobBodySchema } from '@ct/contracts';
import { z } from 'zod';
import { parameterSchema, queryParameters, schemaComponents, schemaOf } from './zod-openapi';

describe('zod schemas as OpenAPI 3.0', () => {
  const components = schemaComponents();

  it('has a component for every named request and response schema, and no JSON-Schema-only keywords', () => {
    const ids = [...apiRequestSchemas._idmap.keys(), ...apiResponseSchemas._idmap.keys()];
    expect(Object.keys(components).sort()).toEqual(ids.sort());
    const text = JSON.stringify(components);
    for (const keyword of ['"$id"', '"$schema"', '"$defs"', '"const"', '"propertyNames"', '#/definitions/']) expect(text).not.toContain(keyword);
  });

  it('refers to named schemas and inlines the rest', () => {
    expect(schemaOf(jobSchema, 'output')).toEqual({ $ref: '#/components/schemas/Job' });
    expect(schemaOf(z.object({ a: z.string() }), 'output')).toMatchObject({ type: 'object', properties: { a: { type: 'string' } } });
    // A response schema is not a request component.
    expect(schemaOf(jobSchema, 'input')).toMatchObject({ type: 'object' });
    expect((components['JobList']?.properties?.['jobs'] as { items: unknown }).items).toEqual({ $ref: '#/components/schemas/Job' });
  });

  it('describes a request as written (defaults optional) and an answer as produced (defaults present)', () => {
    expect(components['SubmitJobBody']?.required).toEqual(['config']);
    expect(components['SubmitJobBody']?.additionalProperties).toBe(false);
    expect(components['Job']?.required).toContain('status');
  });

  it('puts null in the enum of a nullable enum, as OpenAPI 3.0 wants', () => {
    expect(components['ProviderConfig']?.properties?.['token_source']).toMatchObject({ nullable: true, enum: ['organisation', 'environment', null] });
    expect(providerConfigSchema.safeParse({ webhook_url: null, token_source: null }).success).toBe(true);
  });

  it('turns a query object into one parameter per field, and keeps descriptions on the parameter', () => {
    const params = queryParameters(z.object({ limit: z.coerce.number().int().default(5), q: z.string().describe('what to find') }).strict());
    expect(params).toEqual([
      { name: 'limit', required: false, schema: expect.objectContaining({ type: 'integer', default: 5 }) },
      { name: 'q', required: true, description: 'what to find', schema: { type: 'string' } },
    ]);
    expect(parameterSchema(z.string().max(3).describe('short'))).toEqual({ description: 'short', schema: { type: 'string', maxLength: 3 } });
  });

  it('refuses a second schema under a taken name', () => {
    expect(() => requestSchema('SubmitJobBody', z.object({}))).toThrow(/two API schemas are named SubmitJobBody/);
    expect(apiRequestSchemas._idmap.get('SubmitJobBody')).toBe(submitJobBodySchema);
  });
});
