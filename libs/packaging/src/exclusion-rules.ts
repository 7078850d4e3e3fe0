/**
 * What never goes into a dataset package. The rules are checked against EVERY segment of a path
 * relative to the dataset folder, so `a/b/.git/config` is excluded just like `.git/config` (the
 * reference only checked the dataset root and leaked nested `.git` / `.aws` contents).
 */

import { EXCLUSION_REASONS, type ExclusionReason } from '@ct/job-domain';

// The reasons live in job-domain, so the API contracts can name them without importing packaging.
export { EXCLUSION_REASONS, type ExclusionReason };

export type ExclusionCounts = Record<ExclusionReason, number>;

export interface ExclusionRule {
  readonly reason: ExclusionReason;
  /** Which kind of entry the rule matches; intermediate path segments are always directories. */
  readonly appliesTo: 'file' | 'directory' | 'any';
  /** Exact names (compared lower-cased, because case-insensitive file systems treat them alike). */
  readonly names?: readonly string[];
  readonly prefixes?: readonly string[];
  /** Extensions including the dot. */
  readonly extensions?: readonly string[];
  readonly why: string;
}

/**
 * Ordered: the first matching rule names the reason, so the specific rules come before the
 * catch-all `hidden` rule (`.env` is reported as an env file, not merely as a hidden file).
 */
export const EXCLUSION_RULES: readonly ExclusionRule[] = [
  {
    reason: 'env_file',
    appliesTo: 'any',
    names: ['.env'],
    prefixes: ['.env.'],
    why: 'dotenv files hold API tokens and passwords',
  },
  {
    reason: 'vcs',
    appliesTo: 'any',
    names: ['.git', '.hg', '.svn'],
    why: 'repository history can contain secrets that were deleted from the working tree',
  },
  {
    reason: 'key_or_certificate',
    appliesTo: 'file',
    extensions: ['.pem', '.key', '.p12', '.pfx', '.crt', '.cer', '.der', '.jks', '.keystore', '.ppk'],
    prefixes: ['id_rsa', 'id_ed25519', 'id_ecdsa', 'id_dsa'],
    why: 'private keys and certificates',
  },
  {
    reason: 'credentials_dir',
    appliesTo: 'any',
    names: ['.ssh', '.aws', '.gnupg', '.config', '.docker', '.kube', '.azure'],
    why: 'tool folders that hold cloud, SSH and registry credentials',
  },
  {
    reason: 'dependencies',
    appliesTo: 'directory',
    names: ['node_modules'],
    why: 'installed packages are not training data and can be huge',
  },
  {
    reason: 'virtualenv',
    appliesTo: 'directory',
    names: ['venv', '.venv', 'virtualenv'],
    why: 'Python environments (folders holding pyvenv.cfg are detected by the scanner too)',
  },
  {
    reason: 'hidden',
    appliesTo: 'any',
    prefixes: ['.'],
    why: 'dot-files are tool state (.DS_Store, .netrc, caches), never training data',
  },
];

/** A directory holding this file is a Python virtualenv whatever its name. */
export const VIRTUALENV_MARKER = 'pyvenv.cfg';

function ruleMatches(rule: ExclusionRule, lowerName: string, isDirectory: boolean): boolean {
  if (rule.appliesTo === 'file' && isDirectory) return false;
  if (rule.appliesTo === 'directory' && !isDirectory) return false;
  if (rule.names?.includes(lowerName)) return true;
  if (rule.prefixes?.some((prefix) => lowerName.startsWith(prefix))) return true;
  return rule.extensions?.some((ext) => lowerName.endsWith(ext)) ?? false;
}

/** The reason a single name (one path segment) is excluded, or null. */
export function nameExclusionReason(name: string, isDirectory: boolean): ExclusionReason | null {
  const lowerName = name.toLowerCase();
  for (const rule of EXCLUSION_RULES) {
    if (ruleMatches(rule, lowerName, isDirectory)) return rule.reason;
  }
  return null;
}

/**
 * The reason `relPath` (relative to the dataset folder, `/` or `\` separated) is excluded, or null.
 * Every segment but the last is a directory; `isDirectory` describes the last one.
 */
export function exclusionReason(relPath: string, isDirectory: boolean): ExclusionReason | null {
  const segments = relPath.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const reason = nameExclusionReason(segment, i < segments.length - 1 || isDirectory);
    if (reason) return reason;
  }
  return null;
}

export function emptyExclusionCounts(): ExclusionCounts {
  const counts = {} as ExclusionCounts;
  for (const reason of EXCLUSION_REASONS) counts[reason] = 0;
  return counts;
}
