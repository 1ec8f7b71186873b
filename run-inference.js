#!/usr/bin/env node
// The main job: `node run-inference.js --help`. The TypeScript is compiled to dist/ by `npm install`.
import { existsSync } from 'node:fs';

const entry = new URL('./dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('error: dist/ is missing: run `npm install` (it compiles the TypeScript) or `npm run build`\n');
  process.exit(1);
}
const { runCli } = await import(entry.href);
await runCli(process.argv.slice(2));
