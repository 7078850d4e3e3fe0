import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEATURE_COUNT, listDatasetFiles, loadExamples, syntheticExamples, type Example } from './dataset-features.util';
import { writeSafetensors } from './safetensors.writer';
import { HIDDEN, accuracy, initWeights, mulberry32, trainStep, type MlpWeights } from './tiny-mlp.model';
import type { TrainerSettings } from './trainer-env.config';

/** Raised when config.fail_at_step is reached, so failure paths can be tested on purpose. */
export class SimulatedFailure extends Error {}

export interface TrainerIo {
  log(line: string): void;
  /** One structured stdout line of the progress protocol (docs/TRAINER-CONTRACT.md). */
  emit(event: Record<string, unknown>): void;
  sleep(ms: number): Promise<void>;
}

function weightsJson(m: MlpWeights, step: number, loss: number): string {
  return JSON.stringify({ step, loss, inputs: m.inputs, hidden: HIDDEN, w1: [...m.w1], b1: [...m.b1], w2: [...m.w2], b2: [...m.b2] });
}

function loadData(s: TrainerSettings, io: TrainerIo): Example[] {
  const files = listDatasetFiles(s.dataDirs, io.log);
  if (files.length > 0) return loadExamples(files);
  io.log('no dataset files found; training on a synthetic dataset instead');
  return syntheticExamples(64, mulberry32(s.seed + 1));
}

function saveCheckpoint(s: TrainerSettings, io: TrainerIo, m: MlpWeights, step: number, loss: number): void {
  const rel = `checkpoints/checkpoint-${step}`;
  mkdirSync(join(s.outputDir, rel), { recursive: true });
  writeFileSync(join(s.outputDir, rel, 'model.json'), weightsJson(m, step, loss));
  io.log(`saved checkpoint ${rel}`);
  io.emit({ ct: 'checkpoint', step, path: rel });
}

function saveFinal(s: TrainerSettings, m: MlpWeights, summary: Record<string, unknown>): void {
  writeSafetensors(
    join(s.outputDir, 'model.safetensors'),
    [
      { name: 'hidden.weight', shape: [HIDDEN, FEATURE_COUNT], data: m.w1 },
      { name: 'hidden.bias', shape: [HIDDEN], data: m.b1 },
      { name: 'out.weight', shape: [1, HIDDEN], data: m.w2 },
      { name: 'out.bias', shape: [1], data: m.b2 },
    ],
    { format: 'pt', trainer: 'ct-sample-trainer' },
  );
  writeFileSync(join(s.outputDir, 'training_summary.json'), JSON.stringify(summary, null, 2));
}

export async function runTraining(s: TrainerSettings, io: TrainerIo): Promise<Record<string, unknown>> {
  mkdirSync(s.outputDir, { recursive: true });
  const examples = loadData(s, io);
  const positives = examples.filter((e) => e.label === 1).length;
  io.log(`job ${s.jobId}: ${examples.length} examples (${positives} caption/text, ${examples.length - positives} other)`);
  io.log(`training a tiny MLP for ${s.maxTrainSteps} steps (lr ${s.learningRate})`);
  const model = initWeights(FEATURE_COUNT, mulberry32(s.seed));
  const losses: number[] = [];
  const logEvery = Math.max(1, Math.floor(s.maxTrainSteps / 10));
  for (let step = 1; step <= s.maxTrainSteps; step++) {
    if (s.failAtStep === step) throw new SimulatedFailure(`simulated failure at step ${step} (config fail_at_step)`);
    const loss = trainStep(model, examples, s.learningRate);
    losses.push(loss);
    io.emit({ ct: 'progress', step, total_steps: s.maxTrainSteps, loss: Number(loss.toFixed(6)) });
    if (step % logEvery === 0) io.log(`step ${step}/${s.maxTrainSteps} loss=${loss.toFixed(4)}`);
    if (step % s.checkpointingSteps === 0) saveCheckpoint(s, io, model, step, loss);
    // Always yield, so a SIGTERM is handled promptly even when step_delay_ms is 0.
    await io.sleep(s.stepDelayMs);
  }
  const summary = {
    job_id: s.jobId,
    steps: s.maxTrainSteps,
    examples: examples.length,
    initial_loss: losses[0] ?? null,
    final_loss: losses[losses.length - 1] ?? null,
    accuracy: accuracy(model, examples),
    finished_at: new Date().toISOString(),
  };
  saveFinal(s, model, summary);
  io.log(`done: final loss ${summary.final_loss?.toFixed(4)}, accuracy ${(summary.accuracy * 100).toFixed(1)}%`);
  return summary;
}
