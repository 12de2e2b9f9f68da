export * from './host';
export * from './snapshot-stream';
