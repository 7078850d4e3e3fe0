import { dispatcherEnv, loadEnvOrExit } from '@ct/config';
import { bootService } from '@ct/service';
import { DispatcherModule } from './dispatcher.module';

const env = loadEnvOrExit('dispatcher', dispatcherEnv);
bootService(DispatcherModule.forRoot(env), { service: 'dispatcher', port: env.DISPATCHER_PORT, host: env.HEALTH_HOST });
