import { createHash } from 'node:crypto';
import { isoMicros, versionId } from './sim-clock.util';
import { ProblemError } from './sim-http.util';
import type { JsonObject, JsonValue, ModelVersion } from './replicate-sim.types';

/** The SimpleTuner hardware profiles, each its own Replicate model (`simpletuner/advanced-trainer-<profile>`). */
export const SIMPLETUNER_PROFILES = ['h100', 'h100-x2', 'h100-x4', 'h100-x8', 'l40s', 'l40s-x2', 'l40s-x4', 'l40s-x8'] as const;

export interface SimModel {
  owner: string;
  name: string;
  description: string | null;
  visibility: 'public' | 'private';
  hardware: string;
  /** Cog models without `train:` answer 400 on the trainings route (SimpleTuner's trainer is predict-only). */
  trainable: boolean;
  isOfficial: boolean;
  /** newest first */
  versions: ModelVersion[];
}

/** Inputs declared by SimpleTuner's predict.py, so clients can read a realistic `openapi_schema`. */
const SIMPLETUNER_INPUT: JsonObject = {
  type: 'object',
  required: ['images', 'config_json'],
  properties: {
    images: { type: 'string', format: 'uri' },
    config_json: { type: 'string' },
    dataloader_json: { type: 'string' },
    max_train_steps: { type: 'integer' },
    hub_model_id: { type: 'string' },
    hf_token: { type: 'string', format: 'password', 'x-cog-secret': true },
    lycoris_config: { type: 'string' },
    return_logs: { type: 'boolean', default: true },
  },
};

function schemaFor(input: JsonObject): JsonObject {
  return { openapi: '3.0.2', info: { title: 'Cog', version: '0.1.0' }, components: { schemas: { Input: input, Output: { type: 'string' } } } };
}

function skuFor(profile: string): string {
  const [gpu, mult] = profile.split('-x');
  if (gpu === 'l40s') return mult ? `gpu-${mult}x-l40s` : 'gpu-l40s';
  return mult ? `gpu-h100-${mult}x` : 'gpu-h100';
}

/** Deterministic seed version ids, so demos and docs can quote them across restarts. */
function seedVersionId(model: string, n: number): string {
  return createHash('sha256').update(`${model}:v${n}`).digest('hex');
}

export class SimModelCatalog {
  private readonly models = new Map<string, SimModel>();

  constructor(private readonly now: () => number) {
    this.seed();
  }

  seed(): void {
    this.models.clear();
    const base = this.now();
    const day = 86_400_000;
    for (const profile of SIMPLETUNER_PROFILES) {
      const name = `advanced-trainer-${profile}`;
      this.add({
        owner: 'simpletuner', name, description: `SimpleTuner trainer on ${profile}`, visibility: 'public',
        hardware: skuFor(profile), trainable: false, isOfficial: false,
        versions: [2, 1].map((n) => ({
          id: seedVersionId(`simpletuner/${name}`, n), created_at: isoMicros(base - (3 - n) * day),
          cog_version: '0.14.0', openapi_schema: schemaFor(SIMPLETUNER_INPUT),
        })),
      });
    }
    // a Trainings-API trainer (Cog `train:`), so the trainings route has something that accepts it
    this.add({
      owner: 'ostris', name: 'flux-dev-lora-trainer', description: 'LoRA trainer (simulated)', visibility: 'public',
      hardware: 'gpu-h100', trainable: true, isOfficial: false,
      versions: [2, 1].map((n) => ({
        id: seedVersionId('ostris/flux-dev-lora-trainer', n), created_at: isoMicros(base - (3 - n) * day),
        cog_version: '0.14.0', openapi_schema: schemaFor({ type: 'object', required: ['input_images'], properties: { input_images: { type: 'string', format: 'uri' }, steps: { type: 'integer' } } }),
      })),
    });
  }

  private add(m: SimModel): void {
    this.models.set(`${m.owner}/${m.name}`, m);
  }

  get(owner: string, name: string): SimModel {
    const m = this.models.get(`${owner}/${name}`);
    if (!m) throw new ProblemError(404, 'The requested resource could not be found.');
    return m;
  }

  find(owner: string, name: string): SimModel | undefined {
    return this.models.get(`${owner}/${name}`);
  }

  all(): SimModel[] {
    return [...this.models.values()];
  }

  version(m: SimModel, id: string): ModelVersion {
    const v = m.versions.find((x) => x.id === id);
    if (!v) throw new ProblemError(404, 'The requested resource could not be found.');
    return v;
  }

  /** `POST /v1/models`: the owner must be the caller, and a taken name answers 409. */
  create(caller: string, body: Record<string, JsonValue>): SimModel {
    const { owner, name, visibility, hardware } = body;
    const missing = (['owner', 'name', 'visibility', 'hardware'] as const).filter((k) => typeof body[k] !== 'string');
    if (missing.length) {
      throw new ProblemError(422, `- ${missing.map((k) => `${k}: ${k} is required`).join('\n- ')}\n`, 'Input validation failed', {
        invalid_fields: missing.map((k) => ({ type: 'required', field: k, description: `${k} is required` })),
      });
    }
    if (owner !== caller) throw new ProblemError(403, 'You do not have permission to create models for this owner', 'Forbidden');
    if (this.models.has(`${String(owner)}/${String(name)}`)) throw new ProblemError(409, 'A model with that name and owner already exists.', 'Conflict');
    const m: SimModel = {
      owner: String(owner), name: String(name), description: typeof body.description === 'string' ? body.description : null,
      visibility: visibility === 'public' ? 'public' : 'private', hardware: String(hardware), trainable: false, isOfficial: false, versions: [],
    };
    this.add(m);
    return m;
  }

  /** A successful training pushes a new version to its destination (what `output.version` names). */
  addVersion(m: SimModel): ModelVersion {
    const v: ModelVersion = { id: versionId(), created_at: isoMicros(this.now()), cog_version: '0.14.0', openapi_schema: schemaFor({ type: 'object', properties: { prompt: { type: 'string' } } }) };
    m.versions.unshift(v);
    return v;
  }

  /**
   * Resolves `version` of `POST /v1/predictions`: a bare 64-hex id, `owner/name:id`, or `owner/name`
   * (latest version). Unknown → the real 422 "Invalid version or not permitted".
   */
  resolve(ref: string): { model: SimModel; version: ModelVersion } {
    const invalid = new ProblemError(422, "The specified version does not exist (or perhaps you don't have permission to use it?)", 'Invalid version or not permitted');
    const m = /^([^/:\s]+)\/([^/:\s]+)(?::([0-9a-f]+))?$/.exec(ref);
    if (m) {
      const model = this.find(m[1]!, m[2]!);
      if (!model) throw invalid;
      const version = m[3] ? model.versions.find((v) => v.id === m[3]) : model.versions[0];
      if (!version) throw invalid;
      return { model, version };
    }
    for (const model of this.models.values()) {
      const version = model.versions.find((v) => v.id === ref);
      if (version) return { model, version };
    }
    throw invalid;
  }
}

export function modelObject(m: SimModel, origin: string): Record<string, JsonValue> {
  const latest = m.versions[0];
  return {
    url: `${origin}/${m.owner}/${m.name}`,
    owner: m.owner,
    name: m.name,
    description: m.description,
    visibility: m.visibility,
    github_url: null,
    paper_url: null,
    license_url: null,
    run_count: 0,
    cover_image_url: null,
    default_example: null,
    latest_version: latest ? { ...latest } : null,
    is_official: m.isOfficial,
  };
}
