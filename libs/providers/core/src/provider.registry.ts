import { loadEnv } from '@ct/config';
import { DomainError } from '@ct/job-domain';
import type { PackageRef, ProviderPlugin } from './provider.plugin';
import type { ProviderContext, ProviderDefinition, ProviderLogger } from './provider.definition';
import { ProviderError } from './provider.plugin';

/** Per-organisation provider settings as stored (ProviderSettingsRepository). */
export interface ProviderSettingsStore {
  get(orgId: string, provider: string): Promise<{ settings: Record<string, unknown>; hasSecret: boolean; updatedAt: Date | null }>;
  put(orgId: string, provider: string, settings: Record<string, unknown>, secret?: string | null): Promise<unknown>;
  secret(orgId: string, provider: string): Promise<string | null>;
  /** Changes whenever the organisation's settings or secret of this provider change (null: never set). */
  version(orgId: string, provider: string): Promise<string | null>;
}

/** Called after every plugin call, for metrics. */
export type ProviderCallHook = (provider: string, operation: string, outcome: 'ok' | 'error', seconds: number) => void;

export interface RegistryDeps {
  settings: ProviderSettingsStore;
  /** The process environment (libs/config `environment()`); each provider validates its own variables. */
  environment: Readonly<Record<string, string>>;
  publicUrl?: string | null | undefined;
  openPackage?: (ref: PackageRef) => Promise<NodeJS.ReadableStream>;
  logger: ProviderLogger;
  onCall?: ProviderCallHook;
}

export type SecretSource = 'organisation' | 'environment' | null;

const INSTRUMENTED = ['validateCredentials', 'listJobs', 'runJob', 'cancelJob', 'getJobStatus', 'getJobLogs', 'finalize'] as const;

/**
 * Every service resolves providers here: by name, as one organisation configured them. A plugin is built
 * once per organisation and kept while that organisation's settings stay the same: the settings' version
 * (one small indexed row) is read again when it is more than `VERSION_TTL_MS` old, so a change made through
 * any gateway reaches every service within a second, with no event to miss, and a busy service does not
 * read it on every call (the gateway that made the change sees it at once).
 */
const VERSION_TTL_MS = 1_000;

export class ProviderRegistry {
  private readonly byName = new Map<string, ProviderDefinition>();
  private readonly envs = new Map<string, unknown>();
  private readonly cache = new Map<string, { version: string | null; checkedAt: number; plugin: Promise<ProviderPlugin> }>();

  constructor(definitions: readonly ProviderDefinition[], private readonly deps: RegistryDeps) {
    for (const d of definitions) {
      if (this.byName.has(d.name)) throw new Error(`provider ${d.name} is registered twice`);
      this.byName.set(d.name, d);
      // Misconfiguration fails the service at boot, with the variable named.
      this.envs.set(d.name, d.envSchema ? loadEnv(`provider ${d.name}`, d.envSchema, deps.environment) : {});
    }
  }

  definitions(): ProviderDefinition[] {
    return [...this.byName.values()];
  }

  definition(name: string): ProviderDefinition {
    const d = this.byName.get(name);
    if (!d) throw new DomainError('provider_unknown', `Unknown provider "${name}". Available: ${this.names((x) => !x.comingSoon).join(', ')}.`, { provider: name });
    return d;
  }

  /** Provider names, optionally filtered (e.g. by capability). */
  names(filter: (d: ProviderDefinition) => boolean = () => true): string[] {
    return this.definitions().filter(filter).map((d) => d.name);
  }

  /**
   * The plugin for a job of this provider, as the organisation configured it. `fresh` reads the settings'
   * version whatever its age: for decisions a just-made change must reach (consent), at one small query.
   */
  async forOrg(orgId: string, name: string, opts: { fresh?: boolean } = {}): Promise<ProviderPlugin> {
    const def = this.definition(name);
    if (def.comingSoon) throw new DomainError('provider_unavailable', `${def.label} is coming soon; it cannot run jobs yet.`, { provider: name });
    const key = `${orgId}\u0000${name}`;
    const hit = this.cache.get(key);
    if (hit && !opts.fresh && Date.now() - hit.checkedAt < VERSION_TTL_MS) return hit.plugin;
    const version = await this.deps.settings.version(orgId, name);
    if (hit && hit.version === version) {
      hit.checkedAt = Date.now();
      return hit.plugin;
    }
    const plugin = this.build(def, orgId).then((p) => this.instrument(p));
    plugin.catch(() => this.cache.delete(key));
    this.cache.set(key, { version, checkedAt: Date.now(), plugin });
    return plugin;
  }

  /** The organisation's settings (validated, defaults applied) and where its secret comes from. */
  async settingsOf(orgId: string, name: string): Promise<{ settings: Record<string, unknown>; secretSource: SecretSource }> {
    const def = this.definition(name);
    const stored = await this.deps.settings.get(orgId, name);
    const settings = def.settingsSchema.parse(stored.settings) as Record<string, unknown>;
    const envSecret = def.secret?.envVar ? this.deps.environment[def.secret.envVar] : undefined;
    return { settings, secretSource: stored.hasSecret ? 'organisation' : envSecret ? 'environment' : null };
  }

  /**
   * Changes an organisation's settings (a partial patch over the current ones) and, when given, its secret.
   * A new secret is checked with the provider first (validateCredentials): a rejected one is not stored.
   */
  async configure(orgId: string, name: string, patch: Record<string, unknown>, secret?: string | null): Promise<void> {
    const def = this.definition(name);
    const current = (await this.deps.settings.get(orgId, name)).settings;
    const next = def.settingsSchema.parse({ ...current, ...patch }) as Record<string, unknown>;
    if (typeof secret === 'string') await this.checkSecret(def, orgId, next, secret);
    await this.deps.settings.put(orgId, name, next, secret);
    this.cache.delete(`${orgId}\u0000${name}`);
  }

  private async checkSecret(def: ProviderDefinition, orgId: string, settings: Record<string, unknown>, secret: string): Promise<void> {
    const trial = def.create(this.context(def, orgId, settings, secret));
    let verdict: { ok: boolean; error?: string };
    try {
      verdict = await trial.validateCredentials();
    } catch (err) {
      const retry = err instanceof ProviderError && err.retryable;
      throw new DomainError('provider_error', `${def.label} could not be reached to check the ${def.secret?.label ?? 'secret'}${retry ? '; try again shortly' : ''}: ${(err as Error).message}. Nothing was stored.`);
    }
    if (!verdict.ok) {
      throw new DomainError('provider_credentials_invalid', `${def.label} rejected the ${def.secret?.label ?? 'secret'}: ${verdict.error ?? 'not valid'}. Nothing was stored.`, { provider: def.name });
    }
  }

  private async build(def: ProviderDefinition, orgId: string): Promise<ProviderPlugin> {
    const stored = await this.deps.settings.get(orgId, def.name);
    const settings = def.settingsSchema.parse(stored.settings) as Record<string, unknown>;
    const secret = def.secret ? ((await this.deps.settings.secret(orgId, def.name)) ?? (def.secret.envVar ? this.deps.environment[def.secret.envVar] ?? null : null)) : null;
    return def.create(this.context(def, orgId, settings, secret));
  }

  private context(def: ProviderDefinition, orgId: string, settings: Record<string, unknown>, secret: string | null): ProviderContext<Record<string, unknown>, unknown> {
    const base = this.deps.publicUrl ? this.deps.publicUrl.replace(/\/+$/, '') : null;
    return {
      orgId,
      settings,
      secret,
      env: this.envs.get(def.name),
      publicUrl: base,
      webhookUrl: (jobId) => (base ? `${base}/api/webhooks/${encodeURIComponent(def.name)}?job=${encodeURIComponent(jobId)}` : null),
      openPackage: this.deps.openPackage ?? (() => Promise.reject(new Error('this service does not read packages'))),
      logger: this.deps.logger,
    };
  }

  /** Counts calls and errors per provider and operation (`ct_provider_calls_total`). */
  private instrument(plugin: ProviderPlugin): ProviderPlugin {
    const hook = this.deps.onCall;
    if (!hook) return plugin;
    return new Proxy(plugin, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function' || !(INSTRUMENTED as readonly (string | symbol)[]).includes(prop)) return value;
        return async (...args: unknown[]) => {
          const t0 = performance.now();
          try {
            const r = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            hook(target.name, String(prop), 'ok', (performance.now() - t0) / 1000);
            return r;
          } catch (err) {
            hook(target.name, String(prop), 'error', (performance.now() - t0) / 1000);
            throw err;
          }
        };
      },
    });
  }
}
