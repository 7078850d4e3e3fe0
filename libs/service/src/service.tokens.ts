import { SetMetadata } from '@nestjs/common';

/** The service's name (`api-gateway`, `dispatcher`, …): log field, metrics label, health answer. */
export const SERVICE_NAME = Symbol('SERVICE_NAME');
/** Named readiness checks of the service (`{ postgres: () => …, redis: () => … }`). */
export const READINESS = Symbol('READINESS');

/** The service's pino logger for use cases (structured fields, redaction); Nest's own logs go through nestjs-pino. */
export const LOGGER = Symbol('LOGGER');

/** The storage driver (fs or MinIO) of services that read or write objects directly. */
export const STORAGE_DRIVER = Symbol('STORAGE_DRIVER');

export type ReadinessChecks = Record<string, () => Promise<unknown>>;

/** Routes marked public need no API key (health, metrics, docs); the gateway's auth guard reads this. */
export const PUBLIC_ROUTE = 'ct:public';
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
