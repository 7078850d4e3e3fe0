import { z } from 'zod';
import { responseSchema } from './api-schemas';

/** S3 credentials of an API key: read and list its organisation's packages and outputs with any S3 client. */
export const s3CredentialsSchema = responseSchema(
  'S3Credentials',
  z.object({
    endpoint: z.string().describe('path-style S3 endpoint'),
    region: z.string(),
    force_path_style: z.literal(true),
    access_key_id: z.string(),
    secret_access_key: z.string(),
    buckets: z.object({ datasets: z.string(), outputs: z.string() }).describe('`<bucket>/<org>/`: where this organisation\'s objects are'),
  }),
);
export type S3Credentials = z.infer<typeof s3CredentialsSchema>;
