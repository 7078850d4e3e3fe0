import { commonEnv, loadEnvOrExit } from '@ct/config';
import { migrate } from './migrate';

/** `npm run migrate`: applies pending migrations, safe to run from several services at once. */
async function main(): Promise<void> {
  const env = loadEnvOrExit('migrate', commonEnv);
  const result = await migrate(env.DATABASE_URL);
  process.stdout.write(
    `migrations: ${result.applied.length} applied${result.applied.length ? ` (${result.applied.join(', ')})` : ''}, ${result.alreadyApplied.length} already applied\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`migrate failed: ${err.message}\n`);
  process.exit(1);
});
