// A model's small files (config.json, an index, a cluster file) read without hanging or guessing. A FIFO named as one
// blocked the process for good (not even SIGTERM ended it: the exit waits for the blocked read), /dev/zero filled the
// heap; an entry that cannot be read (a symbolic link to nothing) looked absent to existsSync, and was skipped.
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { notAFile, openErrorWhy } from './file-why.js';

/** Whether a folder has an entry at `path`: a symbolic link to nothing counts (existsSync says no). */
export function hasEntry(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Why `path` cannot be opened, from the error its open gave. */
export function unreadableWhy(path: string, e: unknown): string {
  let link: string | null = null;
  try { link = readlinkSync(path); } catch { /* not a link */ }
  return openErrorWhy(e, link);
}

/**
 * The text of the regular file at `path` (links followed). Opened without blocking (a FIFO's open waits for a writer),
 * then checked to be a regular file; anything else is `fail(why)`.
 */
export function readLocalText(path: string, fail: (why: string) => Error): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw fail(unreadableWhy(path, e));
  }
  try {
    const kind = notAFile(fstatSync(fd));
    if (kind) throw fail(`${kind}, not a file`);
    try {
      return readFileSync(fd, 'utf8');
    } catch (e) {
      throw fail((e as Error).message);
    }
  } finally {
    closeSync(fd);
  }
}
