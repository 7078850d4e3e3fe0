import { loadEnvOrExit, packagerEnv } from '@ct/config';
import { bootService } from '@ct/service';
import { PackagerModule } from './packager.module';

const env = loadEnvOrExit('packager', packagerEnv);
bootService(PackagerModule.forRoot(env), { service: 'packager', port: env.PACKAGER_PORT, host: env.HEALTH_HOST });
