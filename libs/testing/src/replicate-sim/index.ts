export { ReplicateSimulator, DEFAULT_SIM_TOKEN } from './replicate-simulator';
export { SimScript } from './sim-script.controller';
export { signWebhook, newWebhookSecret } from './sim-webhook.dispatcher';
export { SIMPLETUNER_PROFILES } from './sim-model.catalog';
export * from './replicate-sim.types';
