// Why a checkpoint file that its folder lists cannot be read, in words: a symbolic link to nothing (a Hugging Face
// cache whose blob never arrived), a loop of links, a folder, a FIFO or a device. Pure (the browser demo bundles the
// tokenizer, which uses it): the callers make the file system calls.

/** The parts of a stat result that say what a path is. */
export interface StatKind {
  isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean;
}

/** What a path is when it is not a regular file, or null when it is one. */
export function notAFile(st: StatKind): string | null {
  if (st.isFile()) return null;
  return st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO (named pipe)' : st.isSocket() ? 'a socket'
    : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file';
}

/** An open or read error in words; `link`: where the path's symbolic link points, when it is one. */
export function openErrorWhy(e: unknown, link: string | null): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ELOOP') return 'a loop of symbolic links';
  if (code === 'ENOENT' && link !== null) return `a symbolic link to ${link}, which does not exist (a download that did not finish?)`;
  if (code === 'ENOENT') return 'it does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'a folder';
  return (e as Error | null)?.message ?? String(e);
}
