export * from './schema.js';
export * from './naming.js';
export * from './codec.js';
export * from './validate-batch.js';
