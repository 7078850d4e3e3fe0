export * from './provider.plugin';
export * from './provider.definition';
export * from './provider.registry';
export * from './provider-events';
