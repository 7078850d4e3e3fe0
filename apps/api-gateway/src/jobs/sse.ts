import type { Response } from 'express';

/** Opens a Server-Sent Events response; the returned function writes one event. `stop` ends the stream. */
export function openSse(res: Response, stop?: AbortSignal): { send: (event: string, data: unknown, id?: string) => void; close: () => void; closed: () => boolean } {
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
    send: (event, data, id) => {
      if (closed) return;
      res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close,
    closed: () => closed,
  };
}
