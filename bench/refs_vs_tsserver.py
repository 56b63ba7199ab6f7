"""Precision and recall of repoctx's references against TypeScript's language service
(`findReferences`, what tsserver's `references` request answers), on the JavaScript/TypeScript
definitions of one repository — the counterpart of refs_vs_jedi.py.

    cd /tmp/tsrv && npm install typescript@5     # bench only; 7.x has no JavaScript API
    python bench/refs_vs_tsserver.py REPO --index-dir /tmp/NEW_FOLDER [--typescript /tmp/tsrv/node_modules/typescript]
                                     [--defs 250] [--json OUT]

Definitions: every function, method and class of the repository's non-test JS/TS files, every k-th
of them in file and line order so that at most --defs are checked. The language service sees every
JS/TS file of the repository (allowJs, the root tsconfig.json's options when there is one) and the
type declarations it finds in node_modules. Its references are those inside the repository outside
node_modules; import and re-export lines and the definition's own line are left out of both sides,
as in refs_vs_jedi.py, and so are the references to a definition that are definitions themselves
(`obj.name = function …` declares). repoctx's references are refs_vs_jedi.repoctx_refs. Figures:
micro precision and recall over (path, line) pairs, and over non-test files only.

A second line gives the same figures where the language service knows what `this` is: TypeScript
types `this` in a function assigned to a plain object's property (`res.send = function () {
this.set(…) }`, `res = Object.create(…)`) as `any`, or, when the function assigns `this.x = …`,
as the instance of that function taken for a class; there it finds no definition of `this.name` at
all. A repoctx reference at such a `this.name` (the service's definition lookup there is empty) is
"undecided": not counted as false on that line. Every other reference counts as on the first line.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refs_vs_jedi import Lines, Score, repoctx_refs

from repoctx.index.load import load_repository
from repoctx.scan import ScanOptions, is_test_path

_EXTS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
_IMPORT = re.compile(r"^\s*(import\b|export\s+(\*|\{[^}]*\})\s*from\b)|\brequire\s*\(\s*['\"]")

_SERVICE = r"""
const ts = require(process.argv[1]);
const fs = require('fs'), path = require('path');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const root = input.root;
let options = {};
const cfg = path.join(root, 'tsconfig.json');
if (fs.existsSync(cfg)) {
  const read = ts.readConfigFile(cfg, ts.sys.readFile);
  if (!read.error) options = ts.parseJsonConfigFileContent(read.config, ts.sys, root).options;
}
options = Object.assign({}, options, {allowJs: true, checkJs: false, noEmit: true, skipLibCheck: true});
if (options.module === undefined) options.module = ts.ModuleKind.CommonJS;
if (options.moduleResolution === undefined) options.moduleResolution = ts.ModuleResolutionKind.Node10;
if (options.jsx === undefined) options.jsx = ts.JsxEmit.React;
const files = input.files.map(f => path.join(root, f));
const snaps = new Map();
const host = {
  getScriptFileNames: () => files,
  getScriptVersion: () => '1',
  getScriptSnapshot: f => {
    if (!snaps.has(f)) snaps.set(f, fs.existsSync(f) ? ts.ScriptSnapshot.fromString(fs.readFileSync(f, 'utf8')) : undefined);
    return snaps.get(f);
  },
  getCurrentDirectory: () => root,
  getCompilationSettings: () => options,
  getDefaultLibFileName: o => ts.getDefaultLibFilePath(o),
  fileExists: ts.sys.fileExists, readFile: ts.sys.readFile, readDirectory: ts.sys.readDirectory,
  directoryExists: ts.sys.directoryExists, getDirectories: ts.sys.getDirectories,
};
const service = ts.createLanguageService(host, ts.createDocumentRegistry());
const program = service.getProgram();
for (const [file, line, col] of input.queries) {
  const abs = path.join(root, file);
  const sf = program.getSourceFile(abs);
  const out = [];
  try {
    const pos = sf.getPositionOfLineAndCharacter(line - 1, col);
    for (const sym of service.findReferences(abs, pos) || []) {
      for (const r of sym.references) {
        const rsf = program.getSourceFile(r.fileName);
        if (!rsf) continue;
        const at = rsf.getLineAndCharacterOfPosition(r.textSpan.start);
        out.push([path.relative(root, r.fileName), at.line + 1, !!r.isDefinition]);
      }
    }
  } catch (e) { out.push(['!', 0, String(e)]); }
  process.stdout.write(JSON.stringify(out) + '\n');
}
// probes: does the language service know what the name at a position is? (an empty answer: no)
for (const [file, line, col] of input.probes) {
  const abs = path.join(root, file);
  const sf = program.getSourceFile(abs);
  let known = false;
  try {
    known = (service.getDefinitionAtPosition(abs, sf.getPositionOfLineAndCharacter(line - 1, col)) || []).length > 0;
  } catch (e) { known = true; }
  process.stdout.write(JSON.stringify(known) + '\n');
}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--defs", type=int, default=250)
    ap.add_argument("--json")
    ap.add_argument("--typescript", default="/tmp/tsrv/node_modules/typescript")
    ap.add_argument("--index-dir", required=True, help="a fresh folder for the index and its caches (graph, retrieval)")
    a = ap.parse_args()
    root = os.path.realpath(a.repo)
    repo = load_repository(root, ScanOptions(), index_path=os.path.join(a.index_dir, "index.sqlite"))
    g = repo.graph
    sources = sorted(p for p in repo.facts if p.endswith(_EXTS) and "node_modules/" not in p)
    defs = [(sid, p, s) for sid, (p, s) in g.symbols.items()
            if p.endswith(_EXTS) and not is_test_path(p) and s.kind in ("function", "method", "class")]
    step = max(1, -(-len(defs) // a.defs))
    defs = defs[::step]
    lines = Lines(root)

    def is_import(path, n):
        ls = lines(path)
        return 1 <= n <= len(ls) and bool(_IMPORT.search(ls[n - 1]))

    queries, picked = [], []
    for sid, path, s in defs:
        ls = lines(path)
        for n in range(s.start_line, min(s.end_line, s.start_line + 10) + 1):
            # the first time the line names it: in `exports.f = function f` / `A.prototype.f = function f`
            # the property (what other files use), not the function expression's own name
            m = re.search(r"(?<![\w$])" + re.escape(s.name) + r"(?![\w$])", ls[n - 1]) if n <= len(ls) else None
            if m:
                queries.append([path, n, m.start()])
                picked.append((sid, path, s, n))
                break
    mine_of = {sid: {(p, n) for p, n in repoctx_refs(repo, sid) if (p, n) != (path, line_no) and not is_import(p, n)}
               for sid, path, s, line_no in picked}
    probes = sorted({(p, n, m.end()) for sid, _, s, _ in picked for p, n in mine_of[sid]
                     for m in [_this_member(s.name).search(lines(p)[n - 1])] if m})
    run = subprocess.run(["node", "-e", _SERVICE, os.path.join(a.typescript, "lib", "typescript.js")],
                         input=json.dumps({"root": root, "files": sources, "queries": queries, "probes": probes}),
                         capture_output=True, text=True, check=True)
    out = run.stdout.splitlines()
    answers = [json.loads(x) for x in out[:len(queries)]]
    unknown = {(p, n) for (p, n, _), known in zip(probes, map(json.loads, out[len(queries):])) if not known}
    score, decided = Score("tsserver"), Score("tsserver")
    for (sid, path, s, line_no), found in zip(picked, answers):
        if any(p == "!" for p, _, _ in found):
            print("tsserver failed on", sid, found[-1][2], file=sys.stderr)
            continue
        declared = {(p, n) for p, n, d in found if d}
        tref = {(p, n) for p, n, d in found if not d and not p.startswith("..") and "node_modules/" not in p
                and p.endswith(_EXTS)} - declared
        tref = {(p, n) for p, n in tref if (p, n) != (path, line_no) and not is_import(p, n)}
        mine = {x for x in mine_of[sid] if x not in declared}
        score.add(sid, mine, tref)
        decided.add(sid, {x for x in mine if x in tref or x not in unknown}, tref)
    score.report(root, a.json)
    (tp, fp, fn), (ts, fs, ns) = decided.all, decided.src
    print(json.dumps({"where_tsserver_knows_this": True, "undecided": score.all[1] - fp,
                      "precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn),
                      "precision_src": ts / max(1, ts + fs), "recall_src": ts / max(1, ts + ns)}))


def _this_member(name: str) -> re.Pattern:
    """`this.name` on a line; its match ends where the name starts."""
    return re.compile(r"(?<![\w$])this\s*\.\s*(?=" + re.escape(name) + r"(?![\w$]))")

if __name__ == "__main__":
    main()
