#!/usr/bin/env node
/** Worker agent entry point: `node apps/worker-agent/dist/main.js --url <gateway> --token <worker token>`. */
import { CommanderError } from 'commander';
import { hostname } from 'node:os';
import pino from 'pino';
import { AgentConfigError, loadAgentConfig, type AgentConfig } from './agent-config';
import { GatewayClient } from './gateway-client.service';
import { detectGpus } from './gpu-info.service';
import { EXIT, WorkerAgent } from './worker-agent.service';

const AGENT_VERSION = '0.1.0';

function readConfig(): AgentConfig | number {
  try {
    return loadAgentConfig();
  } catch (err) {
    // Commander already printed help/version or its own error message.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.config;
    const message = err instanceof AgentConfigError ? err.message : `unexpected error: ${(err as Error).message}`;
    process.stderr.write(`worker-agent: ${message}\n`);
    return EXIT.config;
  }
}

async function main(): Promise<number> {
  const config = readConfig();
  if (typeof config === 'number') return config;
  const logger = pino({ name: 'worker-agent', level: config.logLevel });
  const gpus = await detectGpus();
  logger.info({ url: config.url, labels: config.labels, gpus: gpus.length, workDir: config.workDir }, 'worker agent starting');
  // Names only: an operator can check what a trainer inherits without the values reaching the log.
  logger.info({ names: Object.keys(config.trainerBaseEnv).sort() }, 'trainer environment chosen');
  const agent = new WorkerAgent({
    config,
    logger,
    gateway: new GatewayClient(config.url, config.token),
    registration: { labels: config.labels, gpus, hostname: config.name ?? hostname(), agentVersion: AGENT_VERSION },
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal means the user does not want to wait for the trainer's grace period.
    if (++signals > 1) process.exit(130);
    agent.stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Started by a launcher over an IPC channel (npm start): stop, as on SIGTERM, once it is gone.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => agent.stop('the launcher exited'));
  }
  const code = await agent.run();
  if (code === EXIT.unauthorized) {
    process.stderr.write('worker-agent: the gateway rejected the worker token (401). It is wrong or was rotated; get a new token and restart the agent.\n');
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`worker-agent: fatal: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
