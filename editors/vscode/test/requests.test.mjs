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
