// The WGSL one entry point needs, for reflection and for its shader module: wgsl_reflect parses in JS, and a
// generated file of many entries (flash_attn_prefill_sgm.wgsl: 8.7K lines, 62 entries) takes over a second on a
// CPU adapter's host, on the main thread, for each variant; the WGSL compiler parses and validates every
// function of a module (a 200 KB generated file: 190–400 ms a module on that host, its one entry's part 4–5 ms).
// Every declaration but the functions the entry cannot reach is kept, unchanged and in order: overrides,
// bindings, aliases and directives stay, so the pipeline's constants and layout are the whole file's.

/** Comments removed (WGSL has no string literals; block comments nest). Newlines are kept for error lines. */
export function stripComments(code: string): string {
  let out = '', i = 0, depth = 0;
  while (i < code.length) {
    const two = code.slice(i, i + 2);
    if (depth === 0 && two === '//') {
      while (i < code.length && code[i] !== '\n') i++;
    } else if (two === '/*') {
      depth++; i += 2;
    } else if (depth > 0 && two === '*/') {
      depth--; i += 2;
    } else {
      if (depth === 0 || code[i] === '\n') out += code[i];
      i++;
    }
  }
  return out;
}

/** Top-level declarations: each ends at a `;` outside brackets or at the `}` that closes its body. */
export function topLevelItems(code: string): string[] {
  const items: string[] = [];
  let start = 0, depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '{' || c === '(' || c === '[') depth++;
    else if (c === '}' || c === ')' || c === ']') {
      depth--;
      if (c === '}' && depth === 0) { items.push(code.slice(start, i + 1)); start = i + 1; }
    } else if (c === ';' && depth === 0) { items.push(code.slice(start, i + 1)); start = i + 1; }
  }
  if (code.slice(start).trim()) items.push(code.slice(start));
  return items;
}

const FN = /(?:^|[\s)])fn\s+([A-Za-z_]\w*)/;
const IDENT = /[A-Za-z_]\w*/g;

/**
 * `code` without the functions that `entry` cannot reach (through calls, by name). Unchanged when the
 * entry is not a function of it, so that reflection reports the missing entry itself.
 */
export function entrySource(code: string, entry: string): string {
  const items = topLevelItems(stripComments(code));
  const fns = new Map<string, number>();
  items.forEach((it, i) => { const m = FN.exec(it); if (m) fns.set(m[1]!, i); });
  if (!fns.has(entry)) return code;
  const keep = new Set<number>([fns.get(entry)!]);
  const todo = [fns.get(entry)!];
  while (todo.length) {
    for (const id of items[todo.pop()!]!.match(IDENT) ?? []) {
      const j = fns.get(id);
      if (j !== undefined && !keep.has(j)) { keep.add(j); todo.push(j); }
    }
  }
  return items.filter((it, i) => keep.has(i) || !FN.test(it)).join('');
}
