/**
 * The layout rules of docs/ARCHITECTURE.md, checked on the source tree: no
 * import cycles, no library file over 400 lines, every folder of peer/ and
 * tracker/ says in its mod.ts what it holds and what it may import, and no
 * file imports outside what its folder allows.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
/** Library code: what ships in the `shoal` binary. */
const LIBRARY = ["main.ts", "peer", "tracker", "shared"];
/** Everything that is type-checked, and so may take part in a cycle. */
const ALL = [...LIBRARY, "tests", "bench", "demo"];
const MAX_LINES = 400;
const SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)(["'])(\.\.?\/[^"'\n]+?\.ts)\1/g;

function sources(path: string, out: string[] = []): string[] {
  const abs = join(ROOT, path);
  if (Deno.statSync(abs).isFile) {
    if (path.endsWith(".ts")) out.push(path);
    return out;
  }
  for (const e of Deno.readDirSync(abs)) sources(join(path, e.name), out);
  return out;
}

function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(join(ROOT, file));
  return [...text.matchAll(SPECIFIER)].map((m) =>
    relative(ROOT, resolve(dirname(join(ROOT, file)), m[2]!))
  );
}

const isTest = (f: string) => f.endsWith("_test.ts") || /\/_test_[a-z_]+\.ts$/.test(f);
const library = LIBRARY.flatMap((p) => sources(p)).filter((f) => !isTest(f));
const graph = new Map(ALL.flatMap((p) => sources(p)).map((f) => [f, importsOf(f)]));

/** The strongly connected components with more than one file (Tarjan). */
function cycles(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** The folders a folder's mod.ts allows it to import, from its `May import:` line. */
function allowed(folder: string): string[] | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(join(ROOT, folder, "mod.ts"));
  } catch {
    return null;
  }
  // The list runs from "May import:" to the end of its paragraph (a blank ` *` line).
  const line = text.match(/May import:([^\n]*(?:\n \* +[^\n@ ][^\n]*)*)/);
  if (!line) return null;
  return [...line[1]!.matchAll(/`?([a-z_]+(?:\/[a-z_]+)*\/)`?/g)].map((m) => m[1]!);
}

Deno.test("no two source files import each other, directly or around a loop", () => {
  assert.deepEqual(cycles(graph), []);
});

Deno.test(`no library file is longer than ${MAX_LINES} lines`, () => {
  const long = library
    .map((f) => ({ f, n: Deno.readTextFileSync(join(ROOT, f)).split("\n").length - 1 }))
    .filter(({ n }) => n > MAX_LINES)
    .map(({ f, n }) => `${f}: ${n}`);
  assert.deepEqual(long, []);
});

Deno.test("no library file casts through unknown", () => {
  const casts = library.filter((f) => /as unknown as/.test(Deno.readTextFileSync(join(ROOT, f))));
  assert.deepEqual(casts, []);
});

const FOLDERS = ["peer", "tracker"].flatMap((role) =>
  [...Deno.readDirSync(join(ROOT, role))].filter((e) => e.isDirectory).map((e) =>
    `${role}/${e.name}`
  )
);
/** The folder whose rules a library file follows: its own, or the nearest above it that has them. */
const folderOf = (file: string) => FOLDERS.find((d) => file.startsWith(`${d}/`));

Deno.test("every folder of peer/ and tracker/ says what it holds and what it may import", () => {
  const missing = FOLDERS.filter((d) => allowed(d) === null);
  assert.deepEqual(missing, []);
});

Deno.test("a library file imports only its own folder and what its folder's mod.ts allows", () => {
  const wrong: string[] = [];
  for (const folder of FOLDERS) {
    const may = allowed(folder) ?? [];
    for (const file of library.filter((f) => folderOf(f) === folder)) {
      for (const target of graph.get(file) ?? []) {
        const ok = target.startsWith(`${folder}/`) ||
          may.some((m) => target.startsWith(m));
        if (!ok) wrong.push(`${file} -> ${target}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("shared/ imports nothing of peer/ or tracker/, and peer/ and tracker/ nothing of each other", () => {
  const wrong: string[] = [];
  for (const file of library) {
    for (const target of graph.get(file) ?? []) {
      const crossing = (file.startsWith("shared/") && /^(peer|tracker)\//.test(target)) ||
        (file.startsWith("peer/") && target.startsWith("tracker/")) ||
        (file.startsWith("tracker/") && target.startsWith("peer/")) ||
        (LIBRARY.some((p) => file.startsWith(p)) && /^(tests|bench|demo)\//.test(target));
      if (crossing) wrong.push(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});
