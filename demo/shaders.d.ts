// Virtual module made by demo/build.mjs: every shaders/*.wgsl text by file name.
declare module 'fapool:shaders' {
  const sources: Record<string, string>;
  export default sources;
}
