import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { jobChangeStreamEventSchema, type JobChangeStreamEvent } from '@ct/contracts';
import type { JobStatus } from '@ct/job-domain';
import type { Principal } from '@ct/persistence';
import type { Response } from 'express';
import { CurrentPrincipal } from '../common/auth';
import { Shutdown } from '../common/shutdown';
import { openSse } from '../jobs/sse';
import { ApiAnswers, ApiProblems } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';
import { JobEventsHub } from './job-events.hub';

@ApiTags('events')
@ApiKeyAuth()
@Controller('api/events')
export class EventsController {
  constructor(private readonly hub: JobEventsHub, private readonly shutdown: Shutdown) {}

  @Get()
  @ApiOperation({ summary: "Job changes of the caller's organisation only, over SSE" })
  @ApiAnswers({ status: 200, description: '`ready`, then one `job.changed` per change', sse: jobChangeStreamEventSchema })
  @ApiProblems()
  stream(@CurrentPrincipal() p: Principal, @Res() res: Response): void {
    const sse = openSse<JobChangeStreamEvent>(res, this.shutdown.signal);
    sse.send({ event: 'ready', data: { org_id: p.orgId } });
    const sub = this.hub
      .stream(p.orgId)
      .subscribe((e) => sse.send({ event: 'job.changed', data: { job_id: e.jobId, status: e.status as JobStatus, reason: e.reason, at: e.at } }));
    res.on('close', () => sub.unsubscribe());
  }
}
