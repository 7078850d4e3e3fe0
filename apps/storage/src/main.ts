import { loadEnvOrExit, storageEnv } from '@ct/config';
import { bootService } from '@ct/service';
import { mountS3Endpoint, StorageModule } from './storage.module';

/** The S3-compatible endpoint (/api/cloud/storage/... and /) over the filesystem or MinIO, with the artifact index. */
const env = loadEnvOrExit('storage', storageEnv);
bootService(StorageModule.forRoot(env), {
  service: 'storage', port: env.STORAGE_PORT, host: env.STORAGE_HOST, bodyParser: false,
  metricMounts: ['/api/cloud/storage'],
  configure: mountS3Endpoint,
});
