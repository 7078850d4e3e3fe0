export * from './exclusion-rules';
export * from './dataset-root';
export * from './dataset-scanner';
export * from './compression-policy';
export * from './dataloader-rewrite';
export * from './archive-size-guard';
export * from './package-plan';
export * from './dataset-packager';
