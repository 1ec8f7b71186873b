#!/usr/bin/env node
// The main job: `node run-inference.js --help`. The TypeScript is compiled to dist/ by `npm install`.
// `node run-inference.js worker ...` runs a pool worker process instead (worker --help);
// `node run-inference.js serve ...` the OpenAI-compatible HTTP server (serve --help).
import { existsSync } from 'node:fs';

const command = process.argv[2] === 'worker' || process.argv[2] === 'serve' ? process.argv[2] : null;
const entry = new URL(command === 'worker' ? './dist/src/cli/worker-cli.js' : command === 'serve' ? './dist/src/cli/serve.js' : './dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('error: dist/ is missing: run `npm install` (it compiles the TypeScript) or `npm run build`\n');
  process.exit(1);
}
if (command === 'worker') {
  const { runWorkerCli } = await import(entry.href);
  await runWorkerCli(process.argv.slice(3));
} else if (command === 'serve') {
  const { runServeCli } = await import(entry.href);
  await runServeCli(process.argv.slice(3));
} else {
  const { runCli } = await import(entry.href);
  await runCli(process.argv.slice(2));
}
