export * from './queues';
export * from './jobs-http';
export * from './worker-protocol';
