export * from './test-db';
export * from './tcp-proxy';
export * from './factories';
export * from './e2e-stack';
export * from './replicate-sim';
