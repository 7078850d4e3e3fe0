import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { StorageEnv } from '@ct/config';
import { createStorageDriver, storageConfigFromEnv } from '@ct/storage';
import { STORAGE_DRIVER } from './service.tokens';

/** The storage driver (fs or MinIO) for services that read or write objects directly, visible to every module. */
@Global()
@Module({})
export class StorageDriverModule {
  static forRoot(env: StorageEnv): DynamicModule {
    return {
      module: StorageDriverModule,
      providers: [{ provide: STORAGE_DRIVER, useFactory: () => createStorageDriver(storageConfigFromEnv(env)) }],
      exports: [STORAGE_DRIVER],
    };
  }
}
