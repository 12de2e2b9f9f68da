export * from './run-service';
export * from './health.controller';
