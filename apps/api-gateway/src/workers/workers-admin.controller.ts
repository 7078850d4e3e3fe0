import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { WorkerRepository, type Principal } from '@ct/persistence';
import { z } from 'zod';
import { AdminOnly, CurrentPrincipal } from '../common/auth';
import { ZodPipe } from '../common/zod.pipe';
import { workerView } from './worker.view';

const createWorkerBody = z
  .object({
    name: z.string().min(1).max(100).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only'),
    labels: z.array(z.string().min(1).max(100)).max(50).default([]),
  })
  .strict();

/** Admins create workers; a worker's token is shown once (here) and stored hashed. */
@ApiTags('workers')
@ApiBearerAuth()
@AdminOnly()
@Controller('api/admin/workers')
export class WorkersAdminController {
  constructor(private readonly workers: WorkerRepository) {}

  @Post()
  async create(@CurrentPrincipal() p: Principal, @Body(new ZodPipe(createWorkerBody, 'worker')) body: z.infer<typeof createWorkerBody>) {
    const { worker, token } = await this.workers.create(p.orgId, body.name, body.labels);
    return { worker: workerView(worker), token, note: 'Keep this token: it is shown only once.' };
  }

  @Get()
  async list(@CurrentPrincipal() p: Principal) {
    return { workers: (await this.workers.list(p.orgId)).map(workerView) };
  }

  @Post(':id/drain')
  async drain(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return workerView(await this.workers.drain(p.orgId, id));
  }

  @Post(':id/rotate-token')
  async rotate(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    const { worker, token } = await this.workers.rotateToken(p.orgId, id);
    return { worker: workerView(worker), token, note: 'The old token stopped working; this one is shown only once.' };
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<void> {
    await this.workers.delete(p.orgId, id);
  }
}
