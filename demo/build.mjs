// Build the browser demo into demo/dist (esbuild) and, with --serve, serve it on http://127.0.0.1:8080.
//   node demo/build.mjs [--serve] [--port N] [--minify]
// The page bundles the same src/ runtime as Node. Two things differ in a browser: WGSL texts are embedded
// (virtual module 'fapool:shaders', every shaders/*.wgsl), and Node-only modules (node:*, the Dawn
// backend) are replaced by a stub that throws if ever called, so nothing from Node reaches the page.
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const demoDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(demoDir, '..');
export const distDir = join(demoDir, 'dist');

const shadersPlugin = {
  name: 'fapool-shaders',
  setup(b) {
    b.onResolve({ filter: /^fapool:shaders$/ }, () => ({ path: 'shaders', namespace: 'fapool-shaders' }));
    b.onLoad({ filter: /.*/, namespace: 'fapool-shaders' }, async () => {
      const dir = join(root, 'shaders');
      const files = (await readdir(dir)).filter((f) => f.endsWith('.wgsl')).sort();
      const entries = await Promise.all(files.map(async (f) => [f, await readFile(join(dir, f), 'utf8')]));
      return { contents: `export default ${JSON.stringify(Object.fromEntries(entries))};`, loader: 'js', watchFiles: files.map((f) => join(dir, f)) };
    });
  },
};

const nodeStubPlugin = {
  name: 'node-stub',
  setup(b) {
    b.onResolve({ filter: /^node:|backend-node\.js$/ }, (a) => ({ path: a.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({
      contents: `const fail = () => { throw new Error(${JSON.stringify(`${a.path} is Node-only and not available in the browser`)}); };
        export default new Proxy({}, { get: fail });
        export const nodeGpu = fail, NO_ADAPTER_HELP = '', readFile = fail, stat = fail, join = fail, dirname = fail;`,
      loader: 'js',
    }));
  },
};

/** Bundle demo/main.ts and copy the page into demo/dist. Returns the output size in bytes. */
export async function buildDemo({ minify = false } = {}) {
  await mkdir(distDir, { recursive: true });
  const res = await build({
    entryPoints: [join(demoDir, 'main.ts')],
    outfile: join(distDir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    minify,
    metafile: true,
    logLevel: 'warning',
    plugins: [shadersPlugin, nodeStubPlugin],
  });
  await copyFile(join(demoDir, 'index.html'), join(distDir, 'index.html'));
  // The default model's trained weights (src/model/default/), fetched by the page.
  await copyFile(join(root, 'src', 'model', 'default', 'fortune-4l.safetensors'), join(distDir, 'fortune-4l.safetensors'));
  const leaked = Object.keys(res.metafile.inputs).filter((p) => /(^|\/)node:|backend-node/.test(p) && !p.startsWith('node-stub:'));
  if (leaked.length) throw new Error(`demo bundle pulls Node modules: ${leaked.join(', ')}`);
  return Object.values(res.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.png': 'image/png', '.css': 'text/css', '.safetensors': 'application/octet-stream' };

/** Serve dir on 127.0.0.1 (a secure context for WebGPU); port 0 picks a free one. */
export function serveStatic(dir = distDir, port = 8080) {
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = normalize(join(dir, path.endsWith('/') ? `${path}index.html` : path));
      if (!file.startsWith(dir + sep)) { res.writeHead(403).end(); return; }
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(await readFile(file));
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      ok({ url: `http://127.0.0.1:${addr.port}/`, close: () => new Promise((r) => server.close(() => r(undefined))) });
    });
  });
}

const USAGE = 'usage: node demo/build.mjs [--serve] [--port N] [--minify]   (npm run demo -- --port N: build, then serve on 127.0.0.1:N, default 8080; 0 picks a free port)';

/** One `error:` line and an exit code (2: usage, 1: the build or the port), not a stack trace. */
function fail(code, message) {
  console.error(`error: ${message}`);
  process.exit(code);
}

/** Command-line flags; an unknown one is refused (a misspelt --port was ignored and 8080 used). */
function parseArgs(args) {
  const o = { serve: false, minify: false, port: 8080, help: false };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith('--port=') ? ['--port', args[i].slice(7)] : [args[i], undefined];
    if (flag === '--serve') o.serve = true;
    else if (flag === '--minify') o.minify = true;
    else if (flag === '--help' || flag === '-h') o.help = true;
    else if (flag === '--port') {
      const v = inline ?? args[++i];
      // Number('') is 0 and Number('abc') NaN: listen() threw ERR_SOCKET_BAD_PORT with a stack trace.
      if (v === undefined || !/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new Error(`--port takes a port number 0..65535, got ${v === undefined ? 'nothing' : `'${v}'`}`);
      o.port = Number(v);
    } else throw new Error(`unknown argument '${args[i]}'`);
  }
  return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) { fail(2, `${e.message}\n${USAGE}`); }
  if (o.help) { console.log(USAGE); process.exit(0); }
  // The port first: a busy one (another `npm run demo`) failed after the build with listen's stack trace.
  let server = null;
  if (o.serve) {
    server = await serveStatic(distDir, o.port).catch((e) => fail(1, e.code === 'EADDRINUSE'
      ? `127.0.0.1:${o.port} is already in use (another 'npm run demo'?): stop it, or pick another port with npm run demo -- --port ${o.port === 65535 ? 8081 : o.port + 1}`
      : `cannot serve on 127.0.0.1:${o.port}: ${e.message}`));
  }
  const t0 = performance.now();
  const bytes = await buildDemo({ minify: o.minify }).catch((e) => fail(1, `the demo did not build: ${e.message}`));
  console.log(`built demo/dist (${(bytes / 1024).toFixed(0)} KiB) in ${(performance.now() - t0).toFixed(0)} ms`);
  if (server) console.log(`serving ${server.url}  (e.g. ${server.url}?preset=tiny&seed=7&prompt=Hello&tokens=32) — Ctrl-C to stop`);
}
