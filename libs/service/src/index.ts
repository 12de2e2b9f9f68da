export * from './run-service';
export * from './health.controller';
export * from './readiness';
