// The demo's download of the default model's weights: read in chunks with progress, stoppable between chunks.
import { describe, expect, it } from 'vitest';
import { readBody } from '../demo/download.js';

/** A response whose body arrives in the given chunks, with a Content-Length header when `length` is given. */
function chunked(chunks: number[][], length?: string, encoding?: string): { res: Response; cancelled: () => boolean } {
  let i = 0, cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(c) { if (i < chunks.length) c.enqueue(new Uint8Array(chunks[i++]!)); else c.close(); },
    cancel() { cancelled = true; },
  });
  const headers: Record<string, string> = {};
  if (length !== undefined) headers['content-length'] = length;
  if (encoding !== undefined) headers['content-encoding'] = encoding;
  return { res: new Response(body, { headers }), cancelled: () => cancelled };
}

describe('demo: readBody (the default model\'s download, with progress)', () => {
  it('returns every byte in order and reports each chunk against the Content-Length', async () => {
    const { res } = chunked([[1, 2, 3], [4], [5, 6]], '6');
    const seen: [number, number][] = [];
    const bytes = await readBody(res, (d, t) => seen.push([d, t]));
    expect([...bytes]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen).toEqual([[3, 6], [4, 6], [6, 6]]);
  });

  it('without a Content-Length (or a wrong one) the bytes so far stand for the total: never done > total', async () => {
    for (const length of [undefined, 'abc', '2']) {
      const { res } = chunked([[9, 8], [7, 6, 5]], length);
      const seen: [number, number][] = [];
      expect([...await readBody(res, (d, t) => seen.push([d, t]))], String(length)).toEqual([9, 8, 7, 6, 5]);
      expect(seen.every(([d, t]) => d <= t), String(length)).toBe(true);
      expect(seen.at(-1), String(length)).toEqual([5, 5]);
    }
  });

  it('a content-encoded body: its Content-Length counts compressed bytes, so the bytes read stand for the total', async () => {
    const { res } = chunked([[1, 2], [3, 4], [5, 6]], '3', 'gzip');
    const seen: [number, number][] = [];
    await readBody(res, (d, t) => seen.push([d, t]));
    expect(seen).toEqual([[2, 2], [4, 4], [6, 6]]);
  });

  it('a Stop between chunks ends the download and cancels the body', async () => {
    const { res, cancelled } = chunked([[1], [2], [3]], '3');
    let reads = 0;
    const stop = new Error('stopped');
    await expect(readBody(res, () => {}, () => { if (reads++ === 2) throw stop; })).rejects.toBe(stop);
    expect(cancelled()).toBe(true);
  });
});
