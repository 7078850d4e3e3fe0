import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { jobChangeStreamEventSchema, type JobChangedEvent, type JobChangeStreamEvent } from '@ct/contracts';
import type { JobStatus } from '@ct/job-domain';
import type { Principal } from '@ct/persistence';
import type { Response } from 'express';
import { CurrentPrincipal } from '../common/auth';
import { Shutdown } from '../common/shutdown';
import { openSse, sseFrame } from '../jobs/sse';
import { ApiAnswers, ApiProblems } from '../openapi/api-docs.decorators';
import { ApiKeyAuth } from '../openapi/security';
import { JobEventsHub } from './job-events.hub';

/** Each change is framed once however many streams of its organisation it goes to (500 streams: 500 JSON.stringify saved per change). */
const frames = new WeakMap<JobChangedEvent, string>();
function frameOf(e: JobChangedEvent): string {
  let frame = frames.get(e);
  if (frame === undefined) {
    const event: JobChangeStreamEvent = { event: 'job.changed', data: { job_id: e.jobId, status: e.status as JobStatus, reason: e.reason, at: e.at } };
    frame = sseFrame(event);
    frames.set(e, frame);
  }
  return frame;
}

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
    const sub = this.hub.stream(p.orgId).subscribe((e) => sse.sendFrame(frameOf(e)));
    res.on('close', () => sub.unsubscribe());
  }
}
