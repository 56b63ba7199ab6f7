// The extension's request builders on their own (no server): what goes on the wire for given settings.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

const rq = createRequire(import.meta.url)("../out/requests.js");

test("server command: pythonPath wins, else serverCommand, else `repoctx serve`", () => {
  assert.deepEqual(rq.serverCommand({ pythonPath: "/v/bin/python", serverCommand: ["x"] }), { command: "/v/bin/python", args: ["-m", "repoctx", "serve"] });
  assert.deepEqual(rq.serverCommand({ pythonPath: "  ", serverCommand: ["rc", "serve", "--log", "/tmp/l"] }), { command: "rc", args: ["serve", "--log", "/tmp/l"] });
  assert.deepEqual(rq.serverCommand({ pythonPath: null, serverCommand: [] }), { command: "repoctx", args: ["serve"] });
  assert.deepEqual(rq.serverCommand({}), { command: "repoctx", args: ["serve"] });
});

test("server options: only set values, only the server's keys", () => {
  const all = { serverCommand: ["a"], pythonPath: "/p", budget: 8000, encoding: " cl100k_base ", format: "markdown",
    include: ["src/**", ""], exclude: ["*.lock"], lineNumbers: true };
  assert.deepEqual(rq.initializationOptions(all), { budget: 8000, encoding: "cl100k_base", format: "markdown", include: ["src/**"], exclude: ["*.lock"] });
  assert.deepEqual(rq.didChangeConfigurationParams(all), { settings: { repoctx: rq.initializationOptions(all) } });
  const unset = { budget: null, encoding: "", format: "html", include: [], exclude: null };
  assert.deepEqual(rq.initializationOptions(unset), {});
  assert.deepEqual(rq.initializationOptions({ budget: 0 }), {});
  assert.deepEqual(rq.initializationOptions({ budget: 12.5 }), {});
});

test("context params: a selection is a range, a cursor is a position", () => {
  const sel = { start: { line: 3, character: 0 }, end: { line: 7, character: 9 }, anchor: {}, active: {}, isReversed: false };
  assert.deepEqual(rq.contextParams("file:///r/a.py", sel), { textDocument: { uri: "file:///r/a.py" }, range: { start: { line: 3, character: 0 }, end: { line: 7, character: 9 } } });
  const cur = { start: { line: 2, character: 4 }, end: { line: 2, character: 4 } };
  assert.deepEqual(rq.contextParams("file:///r/a.py", cur, { lineNumbers: false, budget: null, format: null, query: "" }),
    { textDocument: { uri: "file:///r/a.py" }, position: { line: 2, character: 4 } });
  assert.deepEqual(rq.contextParams("u", cur, { lineNumbers: true, budget: 500, format: "plain", query: "q" }),
    { textDocument: { uri: "u" }, position: { line: 2, character: 4 }, query: "q", budget: 500, format: "plain", lineNumbers: true });
  assert.deepEqual(rq.fileContextParams("u", 15, 0).range, { start: { line: 0, character: 0 }, end: { line: 14, character: 0 } });
  assert.deepEqual(rq.fileContextParams("u", 1, 7).range, { start: { line: 0, character: 0 }, end: { line: 0, character: 7 } });
});

test("pack and map params, executeCommand wrapping", () => {
  assert.deepEqual(rq.packParams({ query: "  ", format: undefined, mode: "bogus" }), {});
  assert.deepEqual(rq.packParams({ query: " fix it ", budget: 32000, format: "xml", mode: "slice" }), { query: "fix it", budget: 32000, format: "xml", mode: "slice" });
  assert.deepEqual(rq.mapParams({ focus: "file:///r/a.py" }), { focus: "file:///r/a.py" });
  assert.deepEqual(rq.mapParams({ focus: null, budget: 4000 }), { budget: 4000 });
  assert.deepEqual(rq.executeCommandParams(rq.SERVER_COMMANDS.map, { budget: 1 }), { command: "repoctx.map", arguments: [{ budget: 1 }] });
  assert.equal(rq.formatForPath("/a/b/pack.MD"), "markdown");
  assert.equal(rq.formatForPath("/a/pack.txt"), "plain");
  assert.equal(rq.formatForPath("/a/pack.xml"), "xml");
  assert.equal(rq.formatForPath("/a/pack.prompt"), undefined);
  assert.equal(rq.extensionForFormat("markdown"), "md");
  assert.equal(rq.extensionForFormat(null), "xml");
});

test("summaries", () => {
  const r = { text: "", tokens: 1234, budget: 32000, encoding: "o200k_base", mode: "slice", files: [{ uri: "u", spans: [[1, 2]] }] };
  assert.equal(rq.resultSummary("copied context", r), "copied context: 1,234 / 32,000 tokens (o200k_base), 1 file, mode slice");
  assert.equal(rq.statusText(r), "$(symbol-namespace) 1,234 tok");
});

test("apply: params, per-hunk lines as `repoctx apply` prints them, summaries, the files of an edit", () => {
  assert.deepEqual(rq.applyEditParams("diff"), { text: "diff", dryRun: true });
  assert.deepEqual(rq.applyEditParams("diff", { dryRun: false }), { text: "diff", dryRun: false });
  const ok = { path: "a.py", uri: "file:///r/a.py", index: 1, applied: true, line: 13, offset: -2, relaxation: "whitespace" };
  const bad = { path: "b.py", uri: "file:///r/b.py", index: 2, applied: false, reason: "the old text is not in the file",
    candidates: [{ line: 7, similarity: 0.8333, text: "    total = 1  " }, { line: 40, similarity: 0.5, text: "x" }] };
  assert.equal(rq.hunkLine(ok), "a.py: hunk 1 applied line 13, offset -2 (whitespace)");
  assert.equal(rq.hunkLine({ ...ok, offset: 0, relaxation: "exact" }), "a.py: hunk 1 applied line 13 (exact)");
  assert.equal(rq.hunkLine(bad), "b.py: hunk 2 REFUSED: the old text is not in the file");
  assert.deepEqual(rq.candidateLines(bad), ["closest: line 7 (similarity 0.83): total = 1", "closest: line 40 (similarity 0.50): x"]);
  const edit = { documentChanges: [
    { kind: "create", uri: "file:///r/new.py", options: { ignoreIfExists: true } },
    { textDocument: { uri: "file:///r/new.py", version: null }, edits: [{ range: {}, newText: "x\n" }] },
    { textDocument: { uri: "file:///r/a.py", version: null }, edits: [{ range: {}, newText: "y\n" }] },
    { kind: "delete", uri: "file:///r/old.py" },
  ] };
  const added = { path: "new.py", uri: "file:///r/new.py", index: 1, applied: true, line: 1, offset: 0, relaxation: "new file" };
  const gone = { path: "old.py", uri: "file:///r/old.py", index: 1, applied: true, relaxation: "deleted" };
  const r = { ok: true, edit, hunks: [added, ok, gone], files: [] };
  assert.equal(rq.editedFiles(edit), 3);
  assert.equal(rq.applySummary(r), "3/3 hunks placed in 3 files");
  assert.deepEqual(rq.applyReport({ ...r, hunks: [ok, bad] }), [rq.hunkLine(ok), rq.hunkLine(bad), ...rq.candidateLines(bad).map((l) => `    ${l}`)]);
  assert.equal(rq.refusalNotice({ ...r, ok: false, hunks: [ok, bad] }),
    "1/2 hunks placed, 1 refused; nothing applied. b.py hunk 2: the old text is not in the file; closest: line 7 (similarity 0.83)");
  assert.deepEqual(rq.proposedFiles({ documentChanges: [...edit.documentChanges, { kind: "rename", oldUri: "file:///r/a.py", newUri: "file:///r/b.py" }] }), [
    { uri: "file:///r/new.py", created: true, deleted: false, edits: [{ range: {}, newText: "x\n" }] },
    { uri: "file:///r/a.py", newUri: "file:///r/b.py", created: false, deleted: false, edits: [{ range: {}, newText: "y\n" }] },
    { uri: "file:///r/old.py", created: false, deleted: true, edits: [] },
  ]);
});

test("applyTextEdits: LSP positions (UTF-16, any line break, clamped), several edits, whole-document replacement", () => {
  const pos = (line, character) => ({ line, character });
  const text = "a = 1\r\nb = \u00e9\u{1F600}x\ny\rz";
  assert.equal(rq.applyTextEdits(text, [{ range: { start: pos(1, 7), end: pos(1, 8) }, newText: "Y" }]), "a = 1\r\nb = \u00e9\u{1F600}Y\ny\rz",
    "character 7 on line 1 is after the surrogate pair (UTF-16 units)");
  assert.equal(rq.applyTextEdits(text, [
    { range: { start: pos(3, 0), end: pos(3, 1) }, newText: "Z" },
    { range: { start: pos(0, 0), end: pos(0, 1) }, newText: "A" },
    { range: { start: pos(2, 0), end: pos(2, 99) }, newText: "why" },
  ]), "A = 1\r\nb = \u00e9\u{1F600}x\nwhy\rZ");
  assert.equal(rq.applyTextEdits("one\ntwo\n", [{ range: { start: pos(0, 0), end: pos(2, 0) }, newText: "new\n" }]), "new\n");
  assert.equal(rq.applyTextEdits("", [{ range: { start: pos(0, 0), end: pos(0, 0) }, newText: "created\n" }]), "created\n");
  assert.equal(rq.applyTextEdits("x", [{ range: { start: pos(5, 0), end: pos(9, 9) }, newText: "!" }]), "x!", "past the end: clamped");
});
