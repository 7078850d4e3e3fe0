export * from './job-status';
export * from './domain-error';
export * from './transition';
export * from './progress';
export * from './money';
export * from './consent';
export * from './exclusion-reasons';
export * from './cost-estimate';
