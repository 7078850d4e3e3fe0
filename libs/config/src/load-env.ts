import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly service: string, readonly problems: string[]) {
    super(`${service}: invalid configuration:\n  ${problems.join('\n  ')}\nSee .env.example for every variable.`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment once at boot. The only place in the code base that reads process.env. */
export function loadEnv<S extends z.ZodType>(service: string, schema: S, source: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') clean[k] = v;
  const parsed = schema.safeParse(clean);
  if (!parsed.success) {
    throw new ConfigError(
      service,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** The process environment without empty values, for libraries that validate their own variables with loadEnv. */
export function environment(source: NodeJS.ProcessEnv = process.env): Readonly<Record<string, string>> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && v !== '') clean[k] = v;
  return clean;
}

/** Boot helper: load or exit with a message a person can act on (no stack trace). */
export function loadEnvOrExit<S extends z.ZodType>(service: string, schema: S): z.infer<S> {
  try {
    return loadEnv(service, schema);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(78);
  }
}
