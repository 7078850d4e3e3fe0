/** Why packaging left an entry out. The first seven come from names; the rest are decided by the scanner. */
export const EXCLUSION_REASONS = [
  'env_file',
  'vcs',
  'key_or_certificate',
  'credentials_dir',
  'dependencies',
  'virtualenv',
  'hidden',
  'symlink_outside',
  'symlink_cycle',
  'special_file',
  'unreadable',
] as const;

export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];
