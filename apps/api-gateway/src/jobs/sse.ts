import type { Response } from 'express';

/** One Server-Sent Event as libs/contracts describes a stream's events: its name, its id, its JSON data. */
export interface SseEvent {
  event: string;
  id?: string;
  data: unknown;
}

/** One event as the bytes of the stream (an event fanned out to many streams is framed once: sseFrame + sendFrame). */
export function sseFrame({ event, id, data }: SseEvent): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Opens a Server-Sent Events response of events `E`; `send` writes one. `stop` ends the stream. */
export function openSse<E extends SseEvent>(res: Response, stop?: AbortSignal): { send: (e: E) => void; sendFrame: (frame: string) => void; close: () => void; closed: () => boolean } {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  let closed = false;
  res.on('close', () => (closed = true));
  // Comment lines keep proxies from closing an idle stream.
  const keepAlive = setInterval(() => !closed && res.write(': keep-alive\n\n'), 15_000);
  res.on('close', () => clearInterval(keepAlive));
  const close = (): void => {
    clearInterval(keepAlive);
    if (!closed) res.end();
    closed = true;
  };
  if (stop?.aborted) close();
  else stop?.addEventListener('abort', close, { once: true });
  res.on('close', () => stop?.removeEventListener('abort', close));
  return {
    send: (e) => {
      if (!closed) res.write(sseFrame(e));
    },
    sendFrame: (frame) => {
      if (!closed) res.write(frame);
    },
    close,
    closed: () => closed,
  };
}
