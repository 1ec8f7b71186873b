export * from './backend.js';
export * from './caps.js';
export * from './dispatch.js';
export * from './errors.js';
export * from './f16.js';
export * from './gpu.js';
export * from './program.js';
export * from './tensor.js';
