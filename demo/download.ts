// A fetched file read in chunks, so the page shows the download's progress (the default model's weights).

/**
 * The response's body as bytes, `onProgress(done, total)` after every chunk: total is the Content-Length the server
 * sent, never less than the bytes so far (which stand for it when there is none, it is not a number, or the body is
 * content-encoded: then the header counts the compressed bytes, not the ones read). `check` runs between chunks (the
 * demo's Stop throws from it); the body is cancelled before any error leaves.
 */
export async function readBody(res: Response, onProgress: (done: number, total: number) => void, check: () => void = () => {}): Promise<Uint8Array> {
  const said = res.headers.get('content-encoding') ? NaN : Number(res.headers.get('content-length') ?? '');
  const total = Number.isSafeInteger(said) && said > 0 ? said : 0;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let done = 0;
  try {
    for (;;) {
      check();
      const r = await reader.read();
      if (r.done) break;
      chunks.push(r.value);
      done += r.value.byteLength;
      onProgress(done, Math.max(total, done));
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  }
  const out = new Uint8Array(done);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}
