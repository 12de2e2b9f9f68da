export * from './telemetry';
export * from './logger';
export * from './instruments';
export * from './recent-errors';
export * from './tracing';
