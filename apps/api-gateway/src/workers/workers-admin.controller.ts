import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { WorkerRepository, type Principal } from '@ct/persistence';
import { z } from 'zod';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { ZodPipe } from '../common/zod.pipe';
import { workerView } from './worker.view';

const labels = z.array(z.string().min(1).max(100).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits, dot, dash, colon and underscore only')).max(50);
const gpuMemory = z.number().nonnegative().max(65_536);
const createWorkerBody = z
  .object({
    name: z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
    labels: labels.default([]),
    /** GPU memory (GiB) this worker's jobs may count on; the agent's report can lower it, never raise it. */
    gpu_memory_gib: gpuMemory.default(0),
  })
  .strict();
const updateWorkerBody = z.object({ labels: labels.optional(), gpu_memory_gib: gpuMemory.optional() }).strict();
const workerId = new ZodPipe(z.string().min(1).max(100).regex(/^[A-Za-z0-9-]+$/, 'not a worker id'), 'worker id');

/** Admins create workers and own their labels and GPU memory; a worker's token is shown once (here) and stored hashed. */
@ApiTags('workers')
@ApiBearerAuth()
@AdminOnly()
@Controller('api/admin/workers')
export class WorkersAdminController {
  constructor(private readonly workers: WorkerRepository) {}

  @Post()
  async create(@CurrentPrincipal() p: Principal, @Body(new ZodPipe(createWorkerBody, 'worker')) body: z.infer<typeof createWorkerBody>) {
    const { worker, token } = await this.workers.create(p.orgId, body.name, body.labels, { gpuMemoryGib: body.gpu_memory_gib });
    return { worker: workerView(worker), token, note: 'Keep this token: it is shown only once.' };
  }

  @Get()
  async list(@CurrentPrincipal() p: Principal) {
    return { workers: (await this.workers.list(p.orgId)).map(workerView) };
  }

  @Patch(':id')
  async update(@CurrentPrincipal() p: Principal, @Param('id', workerId) id: string, @Body(new ZodPipe(updateWorkerBody, 'worker')) body: z.infer<typeof updateWorkerBody>) {
    return workerView(await this.workers.update(p.orgId, id, { labels: body.labels, gpuMemoryGib: body.gpu_memory_gib }));
  }

  @Post(':id/drain')
  async drain(@CurrentPrincipal() p: Principal, @Param('id', workerId) id: string) {
    return workerView(await this.workers.drain(p.orgId, id));
  }

  /** A new token; the old one and the S3 credentials of the job the worker holds stop at once (the job is requeued). */
  @Post(':id/rotate-token')
  async rotate(@CurrentPrincipal() p: Principal, @Param('id', workerId) id: string) {
    const { worker, token, requeued } = await this.workers.rotateToken(p.orgId, id);
    return { worker: workerView(worker), token, requeued_jobs: requeued, note: 'The old token stopped working; this one is shown only once.' };
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentPrincipal() p: Principal, @Param('id', workerId) id: string): Promise<void> {
    await this.workers.delete(p.orgId, id);
  }
}
