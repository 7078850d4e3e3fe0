export * from './connection';
export * from './queue-producer';
export * from './processor';
export * from './outbox-relay';
export * from './service-host';
