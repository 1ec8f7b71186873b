// fapool's public API: create an engine from options, stream a generation, dispose it.
//   const engine = await createEngine({ preset: 'tiny' });
//   for await (const e of engine.generate({ prompts: ['Hello'], maxNewTokens: 32 })) ...
export { createEngine, routingPolicy, type EngineOptions, type PoolOptions } from './orchestrator/create-engine.js';
export {
  Engine, EngineDisposedError, GREEDY, QueueFullError, localEngine,
  type CompletionEvent, type CompletionRequest, type EngineLoad, type EngineParts, type FinishReason,
  type GenerateRequest, type GenerationEvent, type PlacementReport,
} from './orchestrator/engine.js';
export type { GenerateResult } from './model/generation.js';
export type { ModelConfig } from './model/config.js';
export type { SamplingParams } from './kernels/sampling.js';
export type { PoolTier, RoutingPolicy } from './orchestrator/pool/policy.js';
export type { StaticPlacement } from './orchestrator/baselines/placement.js';
export type { CompileProgress, PipelineMode } from './gpu/program-cache.js';
export {
  DeviceLostError, FapoolError, GpuValidationError, InputError, LimitError, NoAdapterError, ShaderError, ShapeError,
} from './gpu/errors.js';
