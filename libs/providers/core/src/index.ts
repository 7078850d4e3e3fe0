export * from './provider.plugin';
export * from './provider.registry';
export * from './scheduling-gate';
