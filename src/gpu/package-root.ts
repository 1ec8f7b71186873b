// Where this package's files are, found from the running module (dist/src/… when compiled, src/… under the tests)
// by walking up the folders. Node only.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest folder above this module that holds every one of `markers`. */
function folderAbove(...markers: string[]): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!markers.every((m) => existsSync(join(dir, m)))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find ${markers.join(' beside ')} above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

let root: string | null = null;

/** A path inside the package root (the folder with package.json and shaders/): shaders, default model, cache. */
export function packagePath(...parts: string[]): string {
  root ??= folderAbove('package.json', 'shaders');
  return join(root, ...parts);
}

/** The run-inference.js of this build (a test's private build of src/ has its own, beside its dist/). */
export function entryScript(): string {
  return join(folderAbove('run-inference.js'), 'run-inference.js');
}
