/** A 16 → 8 (tanh) → 1 (sigmoid) network trained with plain full-batch gradient descent. */
export const HIDDEN = 8;

export interface MlpWeights {
  inputs: number;
  w1: Float64Array; // HIDDEN x inputs, row-major
  b1: Float64Array; // HIDDEN
  w2: Float64Array; // HIDDEN
  b2: Float64Array; // 1
}

export interface Sample {
  features: Float64Array;
  label: number;
}

/** Seeded so two runs on the same data give the same curve (handy when comparing jobs). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function initWeights(inputs: number, random: () => number): MlpWeights {
  const scale = 1 / Math.sqrt(inputs);
  const w1 = new Float64Array(HIDDEN * inputs).map(() => (random() * 2 - 1) * scale);
  const w2 = new Float64Array(HIDDEN).map(() => (random() * 2 - 1) * 0.5);
  return { inputs, w1, b1: new Float64Array(HIDDEN), w2, b2: new Float64Array(1) };
}

function forward(m: MlpWeights, x: Float64Array, hidden: Float64Array): number {
  let z = m.b2[0]!;
  for (let h = 0; h < HIDDEN; h++) {
    let s = m.b1[h]!;
    for (let i = 0; i < m.inputs; i++) s += m.w1[h * m.inputs + i]! * x[i]!;
    hidden[h] = Math.tanh(s);
    z += m.w2[h]! * hidden[h]!;
  }
  return 1 / (1 + Math.exp(-z));
}

export function predict(m: MlpWeights, x: Float64Array): number {
  return forward(m, x, new Float64Array(HIDDEN));
}

/** One gradient step over all samples; returns the mean binary cross-entropy before the update. */
export function trainStep(m: MlpWeights, samples: Sample[], lr: number): number {
  const g = { w1: new Float64Array(m.w1.length), b1: new Float64Array(HIDDEN), w2: new Float64Array(HIDDEN), b2: 0 };
  const hidden = new Float64Array(HIDDEN);
  let loss = 0;
  for (const { features: x, label: y } of samples) {
    const p = forward(m, x, hidden);
    const eps = 1e-12;
    loss -= y * Math.log(p + eps) + (1 - y) * Math.log(1 - p + eps);
    const dz = p - y;
    g.b2 += dz;
    for (let h = 0; h < HIDDEN; h++) {
      g.w2[h]! += dz * hidden[h]!;
      const dh = dz * m.w2[h]! * (1 - hidden[h]! * hidden[h]!);
      g.b1[h]! += dh;
      for (let i = 0; i < m.inputs; i++) g.w1[h * m.inputs + i]! += dh * x[i]!;
    }
  }
  const k = lr / Math.max(1, samples.length);
  for (let j = 0; j < m.w1.length; j++) m.w1[j]! -= k * g.w1[j]!;
  for (let h = 0; h < HIDDEN; h++) {
    m.b1[h]! -= k * g.b1[h]!;
    m.w2[h]! -= k * g.w2[h]!;
  }
  m.b2[0]! -= k * g.b2;
  return loss / Math.max(1, samples.length);
}

export function accuracy(m: MlpWeights, samples: Sample[]): number {
  if (samples.length === 0) return 0;
  const right = samples.filter((s) => (predict(m, s.features) >= 0.5 ? 1 : 0) === s.label).length;
  return right / samples.length;
}
