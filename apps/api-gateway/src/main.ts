import { gatewayEnv, loadEnvOrExit } from '@ct/config';
import { bootService } from '@ct/service';
import { AppModule } from './app.module';
import { configureGateway } from './configure';

const env = loadEnvOrExit('api-gateway', gatewayEnv);
bootService(AppModule.forRoot(env), {
  service: 'api-gateway', port: env.PORT, host: env.HOST, bodyParser: false,
  metricMounts: ['/api/cloud/storage'],
  configure: (app) => configureGateway(app, env),
});
