// Types of demo/build.mjs (used by test/demo.e2e.test.ts).
export declare const distDir: string;
export declare function buildDemo(opts?: { minify?: boolean }): Promise<number>;
export declare function serveStatic(dir?: string, port?: number): Promise<{ url: string; close: () => Promise<void> }>;
