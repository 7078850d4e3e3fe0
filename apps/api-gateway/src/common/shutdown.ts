import { setMaxListeners } from 'node:events';
import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/**
 * Aborted when the gateway starts shutting down (SIGTERM/SIGINT with enableShutdownHooks), before the HTTP
 * server closes: long-lived responses (SSE streams, worker claim long-polls) end on it, so the server can
 * close at once instead of waiting for them until the process manager kills it.
 */
@Injectable()
export class Shutdown implements BeforeApplicationShutdown {
  private readonly controller = new AbortController();

  constructor() {
    // Every open stream listens to it: no "possible memory leak" warning past 10.
    setMaxListeners(0, this.controller.signal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  beforeApplicationShutdown(): void {
    this.controller.abort();
  }
}
