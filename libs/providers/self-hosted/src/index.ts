export * from './self-hosted.plugin';
