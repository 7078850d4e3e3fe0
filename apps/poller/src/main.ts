import { loadEnvOrExit, pollerEnv } from '@ct/config';
import { bootService } from '@ct/service';
import { PollerModule } from './poller.module';

const env = loadEnvOrExit('poller', pollerEnv);
bootService(PollerModule.forRoot(env), { service: 'poller', port: env.POLLER_PORT, host: env.HEALTH_HOST });
