import { finished, type Readable, type Transform } from 'node:stream';

/**
 * Pipes `source` through `stages` and returns the last stage, but connects nothing until that stage is first
 * read.
 *
 * Why not `pipe()` at once: a driver starts reading an upload only after asynchronous work of its own (a
 * bucket lookup, a temp dir, a round trip to MinIO). Meanwhile a small body has fully arrived, a stage has
 * checked it and failed, and a stream 'error' that no one listens to yet is thrown as an uncaught exception:
 * one upload with a wrong Content-MD5 used to end the storage process for every tenant. Connected on first
 * read, every stage fails while its reader listens (pipeline(), for await, 'data' readers all listen before
 * they read), whatever the reader is.
 *
 * Why not `pipeline()`: it destroys the source when a stage fails, and the source is the HTTP request, whose
 * socket must still carry the error response. Here a failed stage only unpipes the source; a failure or an
 * early end of the source (a client that went away) fails the last stage, so the reader sees it.
 */
export function pipeOnRead(source: Readable, stages: [Transform, ...Transform[]], opts: PipeOnReadOptions = {}): Transform {
  const last = stages[stages.length - 1] as Transform;
  const read = last._read.bind(last);
  // The source can fail before anyone reads too (a socket reset); finished() reports that failure on connecting.
  const failedEarly = (): void => undefined;
  source.on('error', failedEarly);
  let connected = false;
  last._read = (size: number): void => {
    if (!connected) {
      connected = true;
      connect(source, stages, last, opts.sourceFailure ?? ((err) => err));
      source.off('error', failedEarly);
    }
    read(size);
  };
  return last;
}

export interface PipeOnReadOptions {
  /** The error the reader sees when the source fails or ends early (default: the source's own error). */
  sourceFailure?: (err: Error) => Error;
}

function connect(source: Readable, stages: Transform[], last: Transform, sourceFailure: (err: Error) => Error): void {
  const fail = (err: Error): void => void last.destroy(err);
  // finished() reports a source that closes before its end (an aborted request) as ERR_STREAM_PREMATURE_CLOSE.
  const stopWatching = finished(source, { writable: false }, (err) => {
    if (err) fail(sourceFailure(err));
  });
  let upstream = source;
  for (const stage of stages) {
    if (stage !== last) stage.on('error', fail);
    upstream.pipe(stage);
    upstream = stage;
  }
  last.once('close', () => {
    stopWatching();
    if (stages[0]) source.unpipe(stages[0]);
    for (const stage of stages) if (stage !== last) stage.destroy();
  });
}
