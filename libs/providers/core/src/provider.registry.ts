import { DomainError } from '@ct/job-domain';
import type { ProviderPlugin } from './provider.plugin';

/** Resolves plugins by name. */
export class ProviderRegistry {
  private readonly plugins = new Map<string, ProviderPlugin>();

  constructor(plugins: ProviderPlugin[] = []) {
    for (const p of plugins) this.register(p);
  }

  register(plugin: ProviderPlugin): void {
    if (this.plugins.has(plugin.name)) throw new Error(`provider ${plugin.name} is registered twice`);
    this.plugins.set(plugin.name, plugin);
  }

  get(name: string): ProviderPlugin {
    const p = this.plugins.get(name);
    if (!p) throw new DomainError('provider_unknown', `Unknown provider "${name}". Available: ${this.names().join(', ')}.`);
    return p;
  }

  names(): string[] {
    return [...this.plugins.keys()];
  }
}
