/**
 * A SAMPLE trainer for trying the cloud training system end to end; it is NOT SimpleTuner.
 * It follows docs/TRAINER-CONTRACT.md and trains a tiny MLP on byte histograms of the dataset files.
 */
import { SimulatedFailure, runTraining, type TrainerIo } from './training.service';
import { TrainerSetupError, loadTrainerSettings } from './trainer-env.config';

const io: TrainerIo = {
  log: (line) => process.stdout.write(`[sample-trainer] ${line}\n`),
  emit: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
  sleep: (ms) => new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve))),
};

function onSigterm(): void {
  process.stdout.write('[sample-trainer] received SIGTERM, stopping\n');
  // 128 + 15: the conventional exit code of a process ended by SIGTERM.
  process.exit(143);
}

async function main(): Promise<number> {
  process.on('SIGTERM', onSigterm);
  try {
    await runTraining(loadTrainerSettings(), io);
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`[sample-trainer] error: ${message}\n`);
    return err instanceof TrainerSetupError ? 2 : err instanceof SimulatedFailure ? 3 : 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
