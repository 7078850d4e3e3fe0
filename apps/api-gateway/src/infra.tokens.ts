export const GATEWAY_ENV = Symbol('GATEWAY_ENV');
export const PRODUCER_REDIS = Symbol('PRODUCER_REDIS');
