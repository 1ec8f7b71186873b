// `npm run demo` (node demo/build.mjs) on a busy port and bad arguments: one `error:` line and an exit code, before
// anything is built (so this file never writes demo/dist while test/demo.e2e.test.ts serves it).
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

async function buildScript(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['demo/build.mjs', ...args], { timeout: 30_000 })
    .then((r) => ({ code: 0, ...r }))
    .catch((e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
}

describe('demo/build.mjs command line', () => {
  it('a busy port: exit 1 with one error line naming it and --port, no stack trace, nothing built', async () => {
    const busy = createServer();
    await new Promise<void>((ok) => busy.listen(0, '127.0.0.1', ok));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = await buildScript('--serve', '--port', String(port));
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`error: 127.0.0.1:${port} is already in use (another 'npm run demo'?): stop it, or pick another port with npm run demo -- --port ${port + 1}`);
      expect(r.stdout).not.toMatch(/built demo/);
    } finally {
      await new Promise((ok) => busy.close(ok));
    }
  });

  it('bad arguments: exit 2 with the error and the usage, no stack trace', async () => {
    for (const [args, msg] of [
      [['--serve', '--port', 'abc'], "--port takes a port number 0..65535, got 'abc'"],
      [['--serve', '--port'], '--port takes a port number 0..65535, got nothing'],
      [['--port=70000'], "--port takes a port number 0..65535, got '70000'"],
      [['--prot', '9000'], "unknown argument '--prot'"],
    ] as const) {
      const r = await buildScript(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0]).toBe(`error: ${msg}`);
      expect(r.stderr).toMatch(/^usage: node demo\/build\.mjs/m);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    const help = await buildScript('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: node demo\/build\.mjs \[--serve\] \[--port N\] \[--minify\]/);
  });
});
