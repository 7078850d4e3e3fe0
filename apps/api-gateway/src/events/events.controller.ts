import { Controller, Get, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@ct/persistence';
import type { Response } from 'express';
import { CurrentPrincipal } from '../common/auth';
import { openSse } from '../jobs/sse';
import { JobEventsHub } from './job-events.hub';
import { Shutdown } from '../common/shutdown';

@ApiTags('events')
@ApiBearerAuth()
@Controller('api/events')
export class EventsController {
  constructor(private readonly hub: JobEventsHub, private readonly shutdown: Shutdown) {}

  /** SSE of job changes of the caller's organisation only. */
  @Get()
  stream(@CurrentPrincipal() p: Principal, @Res() res: Response): void {
    const sse = openSse(res, this.shutdown.signal);
    sse.send('ready', { org_id: p.orgId });
    const sub = this.hub.stream(p.orgId).subscribe((e) => sse.send('job.changed', { job_id: e.jobId, status: e.status, reason: e.reason, at: e.at }));
    res.on('close', () => sub.unsubscribe());
  }
}
