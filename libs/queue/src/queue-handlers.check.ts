import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, Reflector } from '@nestjs/core';
import { QUEUE_CONSUMERS, type QueueName } from '@ct/contracts';
import { STEP_QUEUE } from './step.processor';

export const QUEUE_SERVICE = Symbol('QUEUE_SERVICE');

/** Which queues are handled where, and what is wrong with it: empty when the service is wired right. */
export function handlerProblems(service: string, handlers: readonly QueueName[]): string[] {
  const problems: string[] = [];
  const owned = (Object.entries(QUEUE_CONSUMERS) as Array<[QueueName, string]>).filter(([, s]) => s === service).map(([q]) => q);
  for (const q of owned) {
    const n = handlers.filter((h) => h === q).length;
    if (n !== 1) problems.push(`queue "${q}" has ${n} handlers in ${service} (exactly one expected)`);
  }
  for (const q of new Set(handlers)) {
    if (QUEUE_CONSUMERS[q] !== service) problems.push(`queue "${q}" is handled in ${service} but belongs to ${QUEUE_CONSUMERS[q]}`);
  }
  return problems;
}

/** Boot check: every queue this service owns has exactly one processor, and it processes no other queue. */
@Injectable()
export class QueueHandlersCheck implements OnApplicationBootstrap {
  constructor(private readonly discovery: DiscoveryService, private readonly reflector: Reflector, @Inject(QUEUE_SERVICE) private readonly service: string) {}

  onApplicationBootstrap(): void {
    const handlers: QueueName[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const cls = wrapper.metatype ?? (wrapper.instance as object | undefined)?.constructor;
      if (typeof cls !== 'function') continue;
      const queue = this.reflector.get<QueueName | undefined>(STEP_QUEUE, cls);
      if (queue) handlers.push(queue);
    }
    const problems = handlerProblems(this.service, handlers);
    if (problems.length) throw new Error(`queue handlers are miswired: ${problems.join('; ')}`);
  }
}
