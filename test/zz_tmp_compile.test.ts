import { it } from 'vitest';
import { readFileSync } from 'node:fs';
import { useGpu } from './helpers.js';
const gpu = useGpu();
it('compile', async () => {
  const g = await gpu();
  for (const f of (process.env.WGSL_FILES ?? '').split(',')) {
    const code = readFileSync(f, 'utf8');
    const t0 = performance.now();
    const module = g.device.createShaderModule({ code });
    const pipe = await g.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: process.env.ENTRY ?? 'sample', constants: {} } });
    console.log('COMPILE', f, (performance.now() - t0).toFixed(0), 'ms', !!pipe);
    const t1 = performance.now();
    const enc = g.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.end();
    g.device.queue.submit([enc.finish()]);
    await g.device.queue.onSubmittedWorkDone();
    const enc2 = g.device.createCommandEncoder();
    const bufs = [g.device.createBuffer({size: 1024, usage: GPUBufferUsage.STORAGE}), g.device.createBuffer({size: 1024, usage: GPUBufferUsage.STORAGE}), g.device.createBuffer({size: 256, usage: GPUBufferUsage.UNIFORM})];
    const bg = g.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [0,1,2].map((i) => ({ binding: i, resource: { buffer: bufs[i]! } })) });
    const pass2 = enc2.beginComputePass();
    pass2.setPipeline(pipe); pass2.setBindGroup(0, bg); pass2.dispatchWorkgroups(1);
    pass2.end();
    g.device.queue.submit([enc2.finish()]);
    await g.device.queue.onSubmittedWorkDone();
    console.log('DISPATCH', f, (performance.now() - t1).toFixed(0), 'ms');
  }
}, 600000);
