import { Controller, Delete, Get, Patch, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  createdWorkerSchema, createWorkerBodySchema, rotatedWorkerTokenSchema, updateWorkerBodySchema, workerIdSchema, workerListSchema, workerSchema,
  type CreateWorkerBody, type UpdateWorkerBody,
} from '@ct/contracts';
import { WorkerRepository, type Principal } from '@ct/persistence';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { ApiEmpty, ApiJson, ApiProblems, ZodBody, ZodParam } from '../openapi/api-docs.decorators';
import { ApiAdminKeyAuth } from '../openapi/security';
import { workerView } from './worker.view';

/** Admins create workers and own their labels and GPU memory; a worker's token is shown once (here) and stored hashed. */
@ApiTags('workers')
@ApiAdminKeyAuth()
@AdminOnly()
@Controller('api/admin/workers')
export class WorkersAdminController {
  constructor(private readonly workers: WorkerRepository) {}

  @Post()
  @ApiOperation({ summary: 'Create a worker; its token is in this answer only' })
  @ApiJson(201, createdWorkerSchema, 'the worker and its token')
  @ApiProblems('conflict')
  async create(@CurrentPrincipal() p: Principal, @ZodBody(createWorkerBodySchema, 'worker') body: CreateWorkerBody) {
    const { worker, token } = await this.workers.create(p.orgId, body.name, body.labels, { gpuMemoryGib: body.gpu_memory_gib });
    return { worker: workerView(worker), token, note: 'Keep this token: it is shown only once.' };
  }

  @Get()
  @ApiOperation({ summary: "The organisation's workers" })
  @ApiJson(200, workerListSchema, 'oldest first')
  @ApiProblems()
  async list(@CurrentPrincipal() p: Principal) {
    return { workers: (await this.workers.list(p.orgId)).map(workerView) };
  }

  @Patch(':id')
  @ApiOperation({ summary: "Change a worker's labels or GPU memory" })
  @ApiJson(200, workerSchema, 'the worker')
  @ApiProblems('not_found')
  async update(@CurrentPrincipal() p: Principal, @ZodParam('id', workerIdSchema, 'worker id') id: string, @ZodBody(updateWorkerBodySchema, 'worker') body: UpdateWorkerBody) {
    return workerView(await this.workers.update(p.orgId, id, { labels: body.labels, gpuMemoryGib: body.gpu_memory_gib }));
  }

  @Post(':id/drain')
  @ApiOperation({ summary: 'Let the worker finish its job, then stop claiming' })
  @ApiJson(201, workerSchema, 'the worker, draining')
  @ApiProblems('not_found')
  async drain(@CurrentPrincipal() p: Principal, @ZodParam('id', workerIdSchema, 'worker id') id: string) {
    return workerView(await this.workers.drain(p.orgId, id));
  }

  @Post(':id/rotate-token')
  @ApiOperation({ summary: 'A new token; the old one and the S3 credentials of its job stop at once (the job is requeued)' })
  @ApiJson(201, rotatedWorkerTokenSchema, 'the worker and its new token')
  @ApiProblems('not_found')
  async rotate(@CurrentPrincipal() p: Principal, @ZodParam('id', workerIdSchema, 'worker id') id: string) {
    const { worker, token, requeued } = await this.workers.rotateToken(p.orgId, id);
    return { worker: workerView(worker), token, requeued_jobs: requeued, note: 'The old token stopped working; this one is shown only once.' };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Remove a worker; a job it was running goes back to the queue' })
  @ApiEmpty(204, 'removed')
  @ApiProblems('not_found')
  async remove(@CurrentPrincipal() p: Principal, @ZodParam('id', workerIdSchema, 'worker id') id: string): Promise<void> {
    await this.workers.delete(p.orgId, id);
  }
}
