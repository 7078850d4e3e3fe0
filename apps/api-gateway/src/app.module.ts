import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './common/auth';
import { ProblemFilter } from './common/problem.filter';
import { EventsController } from './events/events.controller';
import { HealthController } from './health/health.controller';
import { InfraModule } from './infra.module';
import { JobsController } from './jobs/jobs.controller';
import { JobsService } from './jobs/jobs.service';
import { WorkerProtocolController } from './workers/worker-protocol.controller';
import { WorkersAdminController } from './workers/workers-admin.controller';
import { ProvidersController } from './providers/providers.controller';
import { ReplicateService } from './providers/replicate.service';
import { WebhooksController } from './providers/webhooks.controller';
import { S3CredentialsController } from './storage-proxy/s3-credentials.controller';
import { Shutdown } from './common/shutdown';

@Module({
  imports: [InfraModule],
  controllers: [HealthController, JobsController, EventsController, WorkersAdminController, WorkerProtocolController, S3CredentialsController, ProvidersController, WebhooksController],
  providers: [JobsService, ReplicateService, Shutdown, { provide: APP_GUARD, useClass: AuthGuard }, { provide: APP_FILTER, useClass: ProblemFilter }],
})
export class AppModule {}
