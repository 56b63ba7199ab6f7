// Drives the real repoctx language server over stdio with vscode-jsonrpc, sending the requests the
// extension sends: the params come from the extension's own builders (src/requests.ts, compiled to
// out/requests.js by `npm run build:requests`). The Python that runs the server: $REPOCTX_PYTHON
// (default python3), started exactly as the extension starts it with `repoctx.pythonPath` set.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test } from "node:test";
import * as rpc from "vscode-jsonrpc/node";
import { blockOf, FILES, lineOf, makeFixture } from "./fixture.mjs";

const require = createRequire(import.meta.url);
const rq = require("../out/requests.js");

const PYTHON = process.env.REPOCTX_PYTHON || "python3";
const BUDGET = 2000;
const ENCODING = "cl100k_base";
// A hang guard, never a speed check: a slow or busy machine answers late, not never.
const REQUEST_TIMEOUT_MS = 300_000;
const INVALID_PARAMS = -32602;

/** A selection covering whole lines [first, last] (0-based), as VS Code's editor.selection would be. */
function linesSelection(path, [first, last]) {
  const lines = FILES[path].split("\n");
  return { start: { line: first, character: 0 }, end: { line: last, character: lines[last].length } };
}

function withTimeout(promise, what, ms = REQUEST_TIMEOUT_MS) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no reply in ${ms} ms`)), ms);
    }),
  ]);
}

describe("repoctx language server, driven with the extension's requests", () => {
  let fx;
  let outside;
  let tiktokenCache;
  let proc;
  let conn;
  let stderr = "";
  let exitCode;
  const progress = [];
  const createdTokens = [];
  const log = [];
  let settings = { budget: BUDGET, encoding: ENCODING, include: [], exclude: ["*.md"], format: null };
  let initResult;

  const request = (method, params) => withTimeout(conn.sendRequest(method, params), method);

  before(async () => {
    fx = makeFixture();
    outside = mkdtempSync(join(tmpdir(), "repoctx-outside-"));
    writeFileSync(join(outside, "elsewhere.py"), "def elsewhere():\n    return 1\n");

    const { command, args } = rq.serverCommand({ pythonPath: PYTHON, serverCommand: ["ignored"] });
    assert.deepEqual(args, ["-m", "repoctx", "serve"]);
    proc = spawn(command, args, {
      cwd: fx.root,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, TIKTOKEN_CACHE_DIR: (tiktokenCache = mkdtempSync(join(tmpdir(), "repoctx-tiktoken-"))) },
    });
    proc.stderr.on("data", (d) => {
      stderr += d.toString();
    });
    proc.on("exit", (code) => {
      exitCode = code;
    });
    conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout), new rpc.StreamMessageWriter(proc.stdin));
    // What vscode-languageclient answers for the server's requests to the client.
    conn.onRequest("window/workDoneProgress/create", (p) => {
      createdTokens.push(p.token);
      return null;
    });
    conn.onRequest("client/registerCapability", () => null);
    conn.onRequest("client/unregisterCapability", () => null);
    conn.onRequest("workspace/configuration", (p) =>
      p.items.map((it) => (it.section === "repoctx" ? rq.serverOptions(settings) : null)),
    );
    conn.onRequest("window/showMessageRequest", () => null);
    conn.onNotification("$/progress", (p) => progress.push(p));
    conn.onNotification("window/logMessage", (p) => log.push(p.message));
    conn.onNotification("window/showMessage", (p) => log.push(p.message));
    conn.onNotification("textDocument/publishDiagnostics", () => {});
    conn.listen();

    initResult = await request("initialize", {
      processId: process.pid,
      clientInfo: { name: "repoctx-vscode-test" },
      rootPath: fx.root,
      rootUri: fx.rootUri,
      workspaceFolders: [{ uri: fx.rootUri, name: "shop" }],
      capabilities: {
        window: { workDoneProgress: true },
        workspace: { configuration: true, workspaceFolders: true, didChangeConfiguration: { dynamicRegistration: true } },
        textDocument: { synchronization: { didSave: true }, hover: { contentFormat: ["markdown", "plaintext"] } },
      },
      initializationOptions: rq.initializationOptions(settings),
    });
    await conn.sendNotification("initialized", {});
    // vscode-languageclient sends the synchronized section right after initialized.
    await conn.sendNotification("workspace/didChangeConfiguration", rq.didChangeConfigurationParams(settings));
    for (const rel of ["pkg/checkout.py", "web/index.js"]) {
      await conn.sendNotification("textDocument/didOpen", {
        textDocument: { uri: fx.uri(rel), languageId: rel.endsWith(".py") ? "python" : "javascript", version: 1, text: FILES[rel] },
      });
    }
  });

  after(async () => {
    try {
      if (conn && exitCode === undefined) {
        await withTimeout(conn.sendRequest("shutdown"), "shutdown");
        await conn.sendNotification("exit");
        await withTimeout(
          new Promise((resolve) => (exitCode !== undefined ? resolve() : proc.on("exit", resolve))),
          "exit",
        );
      }
    } finally {
      conn?.dispose();
      if (exitCode === undefined) proc?.kill();
      if (fx) rmSync(fx.root, { recursive: true, force: true });
      if (outside) rmSync(outside, { recursive: true, force: true });
      if (tiktokenCache) rmSync(tiktokenCache, { recursive: true, force: true });
    }
  });

  const failWithStderr = (fn) => async (t) => {
    try {
      await fn(t);
    } catch (e) {
      e.message += `\n--- server stderr (tail) ---\n${stderr.slice(-3000)}`;
      throw e;
    }
  };

  test("initialize: capabilities and the executeCommand commands", failWithStderr(() => {
    const caps = initResult.capabilities;
    const commands = caps.executeCommandProvider?.commands ?? [];
    for (const c of Object.values(rq.SERVER_COMMANDS)) assert.ok(commands.includes(c), `command ${c} in ${commands}`);
    // Our palette command ids must not collide with the server's (the client registers those in VS Code).
    for (const c of Object.values(rq.EXTENSION_COMMANDS)) assert.ok(!commands.includes(c), `${c} collides`);
    // The contract says full sync (1); vscode-languageclient handles incremental (2) as well.
    const sync = caps.textDocumentSync;
    const kind = typeof sync === "number" ? sync : sync?.change;
    assert.ok(kind === 1 || kind === 2, `textDocumentSync ${JSON.stringify(sync)}`);
    if (typeof sync === "object") assert.equal(sync.openClose, true, "didOpen/didClose wanted");
  }));

  let selectionResult;
  test("context of a selected function: its code and its callee's signature from another file", failWithStderr(async () => {
    const sel = linesSelection("pkg/checkout.py", blockOf("pkg/checkout.py", "checkout"));
    const params = rq.contextParams(fx.uri("pkg/checkout.py"), sel, { lineNumbers: null });
    assert.ok(params.range && !params.position, "a selection is sent as a range");
    const r = await request(rq.METHODS.context, params);
    selectionResult = r;
    assert.equal(typeof r.text, "string");
    assert.match(r.text, /def checkout\(cart\):/);
    assert.match(r.text, /total = compute_total\(cart\.items, cart\.country\)/);
    assert.match(r.text, /def compute_total\(items, country\)/, "the callee's signature (pkg/pricing.py)");
    assert.match(r.text, /def format_money\(amount\)/, "the other callee's signature");
    assert.doesNotMatch(r.text, /"section": 17,/, "unrelated bodies are left out");
    assert.equal(r.encoding, ENCODING);
    assert.equal(r.budget, BUDGET);
    assert.ok(Number.isInteger(r.tokens) && r.tokens > 0 && r.tokens <= BUDGET, `tokens ${r.tokens} <= ${BUDGET}`);
    assert.equal(typeof r.mode, "string");
    const byUri = Object.fromEntries(r.files.map((f) => [f.uri, f.spans]));
    const own = byUri[fx.uri("pkg/checkout.py")];
    assert.ok(own, `checkout.py in files: ${Object.keys(byUri)}`);
    const [first, last] = blockOf("pkg/checkout.py", "checkout").map((l) => l + 1);
    assert.ok(own.some(([a, b]) => a <= first && last <= b), `selected lines ${first}-${last} in spans ${JSON.stringify(own)}`);
    const callee = byUri[fx.uri("pkg/pricing.py")];
    assert.ok(callee, "pricing.py in files");
    const sig = lineOf("pkg/pricing.py", "def compute_total") + 1;
    assert.ok(callee.some(([a, b]) => a <= sig && sig <= b), `signature line ${sig} in spans ${JSON.stringify(callee)}`);
    for (const f of r.files) for (const [a, b] of f.spans) assert.ok(1 <= a && a <= b, `span [${a}, ${b}]`);
  }));

  test("the same request as workspace/executeCommand repoctx.context gives the same reply", failWithStderr(async () => {
    const sel = linesSelection("pkg/checkout.py", blockOf("pkg/checkout.py", "checkout"));
    const params = rq.contextParams(fx.uri("pkg/checkout.py"), sel);
    const r = await request("workspace/executeCommand", rq.executeCommandParams(rq.SERVER_COMMANDS.context, params));
    assert.equal(r.text, selectionResult.text);
    assert.equal(r.tokens, selectionResult.tokens);
  }));

  test("a cursor (empty selection) is sent as a position", failWithStderr(async () => {
    const line = lineOf("pkg/checkout.py", "total = compute_total");
    const params = rq.contextParams(fx.uri("pkg/checkout.py"), { start: { line, character: 8 }, end: { line, character: 8 } });
    assert.deepEqual(params.position, { line, character: 8 });
    assert.equal(params.range, undefined);
    const r = await request(rq.METHODS.context, params);
    assert.match(r.text, /def checkout\(cart\):/);
    assert.match(r.text, /def compute_total\(items, country\)/);
    assert.ok(r.tokens <= BUDGET);
  }));

  test("JavaScript: the callee's signature from the imported module", failWithStderr(async () => {
    const sel = linesSelection("web/index.js", blockOf("web/index.js", "renderTotal"));
    const r = await request(rq.METHODS.context, rq.contextParams(fx.uri("web/index.js"), sel));
    assert.match(r.text, /function renderTotal\(element, cents\)/);
    assert.match(r.text, /function formatPrice\(cents\)/);
    assert.ok(r.tokens <= BUDGET);
  }));

  test("status bar request: the whole file's context", failWithStderr(async () => {
    const text = FILES["pkg/checkout.py"];
    const lines = text.split("\n");
    const params = rq.fileContextParams(fx.uri("pkg/checkout.py"), lines.length, lines[lines.length - 1].length);
    const r = await request(rq.METHODS.context, params);
    assert.match(r.text, /class Cart:/);
    assert.match(r.text, /def checkout\(cart\):/);
    assert.ok(r.tokens > 0 && r.tokens <= BUDGET, `tokens ${r.tokens}`);
    assert.equal(r.encoding, ENCODING);
  }));

  test("per-request format, budget and line numbers", failWithStderr(async () => {
    const block = blockOf("pkg/checkout.py", "checkout");
    const params = rq.contextParams(fx.uri("pkg/checkout.py"), linesSelection("pkg/checkout.py", block), {
      format: "markdown",
      budget: 1500,
      lineNumbers: true,
    });
    assert.deepEqual([params.format, params.budget, params.lineNumbers], ["markdown", 1500, true]);
    const r = await request(rq.METHODS.context, params);
    assert.match(r.text, /```/, "markdown fences");
    assert.equal(r.budget, 1500);
    assert.ok(r.tokens <= 1500);
    const n = block[0] + 1;
    assert.match(r.text, new RegExp(`\\b${n}\\b[^\\n]*def checkout\\(cart\\):`), `line number ${n} before def checkout`);
  }));

  test("pack: the whole workspace to a budget, ranked by the query", failWithStderr(async () => {
    const params = rq.packParams({ query: "  compute the total with tax  ", format: rq.formatForPath("/x/pack.xml") });
    assert.deepEqual(params, { query: "compute the total with tax", format: "xml" });
    const r = await request(rq.METHODS.pack, params);
    assert.match(r.text, /compute_total/);
    assert.equal(r.encoding, ENCODING);
    assert.equal(r.budget, BUDGET);
    assert.ok(r.tokens > 0 && r.tokens <= BUDGET, `tokens ${r.tokens} <= ${BUDGET}`);
    assert.ok(r.files.some((f) => f.uri === fx.uri("pkg/pricing.py")), "pricing.py packed");
    assert.ok(!r.files.some((f) => f.uri.endsWith("/README.md")), "exclude *.md from the settings applies");
    const viaCommand = await request("workspace/executeCommand", rq.executeCommandParams(rq.SERVER_COMMANDS.pack, params));
    assert.equal(viaCommand.text, r.text);
  }));

  test("map: signatures, focused on the active file", failWithStderr(async () => {
    const params = rq.mapParams({ focus: fx.uri("pkg/checkout.py") });
    const r = await request(rq.METHODS.map, params);
    assert.match(r.text, /compute_total/);
    assert.match(r.text, /checkout/);
    assert.doesNotMatch(r.text, /subtotal = sum/, "a map holds no bodies");
    assert.equal(r.encoding, ENCODING);
    assert.ok(r.tokens > 0 && r.tokens <= r.budget, `tokens ${r.tokens} <= ${r.budget}`);
    const small = await request(rq.METHODS.map, rq.mapParams({ budget: 300 }));
    assert.equal(small.budget, 300);
    assert.ok(small.tokens <= 300);
    const viaCommand = await request("workspace/executeCommand", rq.executeCommandParams(rq.SERVER_COMMANDS.map, params));
    assert.equal(viaCommand.text, r.text);
  }));

  test("a URI outside the workspace is InvalidParams", failWithStderr(async () => {
    const uri = pathToFileURL(join(outside, "elsewhere.py")).href;
    const sel = { start: { line: 0, character: 0 }, end: { line: 1, character: 12 } };
    await assert.rejects(request(rq.METHODS.context, rq.contextParams(uri, sel)), (e) => {
      assert.equal(e.code, INVALID_PARAMS, `code ${e.code}: ${e.message}`);
      return true;
    });
    await assert.rejects(request(rq.METHODS.map, rq.mapParams({ focus: uri })), (e) => e.code === INVALID_PARAMS);
    await assert.rejects(
      request("workspace/executeCommand", rq.executeCommandParams(rq.SERVER_COMMANDS.context, rq.contextParams(uri, sel))),
      (e) => e.code === INVALID_PARAMS,
    );
    // The server keeps serving after the errors.
    const r = await request(rq.METHODS.context, rq.contextParams(fx.uri("pkg/checkout.py"), { start: { line: 10, character: 0 }, end: { line: 10, character: 0 } }));
    assert.match(r.text, /def checkout/);
  }));

  test("didChangeConfiguration: a new budget and encoding apply to the next request", failWithStderr(async () => {
    settings = { ...settings, budget: 1200, encoding: "o200k_base" };
    const p = rq.didChangeConfigurationParams(settings);
    assert.deepEqual(p, { settings: { repoctx: { budget: 1200, encoding: "o200k_base", exclude: ["*.md"] } } });
    await conn.sendNotification("workspace/didChangeConfiguration", p);
    const sel = linesSelection("pkg/checkout.py", blockOf("pkg/checkout.py", "checkout"));
    const r = await request(rq.METHODS.context, rq.contextParams(fx.uri("pkg/checkout.py"), sel));
    assert.equal(r.budget, 1200);
    assert.equal(r.encoding, "o200k_base");
    assert.ok(r.tokens <= 1200);
    assert.match(r.text, /def compute_total\(items, country\)/);
  }));

  test("an edited, unsaved document is what the context shows (full sync)", failWithStderr(async () => {
    const edited = FILES["pkg/checkout.py"].replace('return "Total: "', 'return "Grand total: "');
    await conn.sendNotification("textDocument/didChange", {
      textDocument: { uri: fx.uri("pkg/checkout.py"), version: 2 },
      contentChanges: [{ text: edited }],
    });
    const sel = linesSelection("pkg/checkout.py", blockOf("pkg/checkout.py", "checkout"));
    const r = await request(rq.METHODS.context, rq.contextParams(fx.uri("pkg/checkout.py"), sel));
    assert.match(r.text, /Grand total: /);
    assert.equal(readFileSync(fx.path("pkg/checkout.py"), "utf8"), FILES["pkg/checkout.py"], "disk untouched");
  }));

  test("applyEdit (dry run): placed against the unsaved buffer, the files the preview shows", failWithStderr(async () => {
    // The buffer of pkg/checkout.py says "Grand total" (previous test); the model's diff was made
    // against the file on disk and states a line 3 too early.
    const disk = FILES["pkg/checkout.py"].split("\n");
    const at = lineOf("pkg/checkout.py", "total = compute_total");
    const diff = [
      "Here is the change:", "```diff",
      "--- a/pkg/checkout.py", "+++ b/pkg/checkout.py",
      `@@ -${at - 1},3 +${at - 1},4 @@`,
      ` ${disk[at - 1]}`, ` ${disk[at]}`, `+    total = max(total, 0)`, ` ${disk[at + 1].replace("Grand total", "Total")}`,
      "--- a/pkg/pricing.py", "+++ b/pkg/pricing.py", "@@ -1 +1 @@", '-"""Prices and taxes."""', '+"""Prices, taxes and rounding."""',
      "```", "",
    ].join("\n");
    const params = rq.applyEditParams(diff);
    assert.deepEqual(params, { text: diff, dryRun: true });
    const r = await request(rq.METHODS.applyEdit, params);
    assert.equal(r.ok, true, JSON.stringify(r.hunks));
    assert.equal(r.applied, undefined, "a dry run applies nothing");
    const [h1, h2] = r.hunks;
    assert.equal(h1.uri, fx.uri("pkg/checkout.py"));
    assert.equal(h1.line, at, `placed at line ${at} (1-based: the first context line)`);
    assert.equal(rq.hunkLine(h1), `pkg/checkout.py: hunk 1 applied line ${at}, offset +1 (${h1.relaxation})`);
    const docEdit = r.edit.documentChanges.find((c) => c.textDocument?.uri === fx.uri("pkg/checkout.py"));
    const newText = docEdit.edits[0].newText;
    assert.match(newText, /Grand total: /, "the unsaved buffer is the base");
    assert.match(newText, /cart\.country\)\n    total = max\(total, 0\)\n    return "Grand total: "/);
    assert.equal(readFileSync(fx.path("pkg/checkout.py"), "utf8"), FILES["pkg/checkout.py"], "disk untouched");
    assert.equal(rq.applySummary(r), "2/2 hunks placed in 2 files");
    const proposed = rq.proposedFiles(r.edit);
    assert.deepEqual(proposed.map((f) => f.uri), [fx.uri("pkg/checkout.py"), fx.uri("pkg/pricing.py")]);
    const pricing = rq.applyTextEdits(FILES["pkg/pricing.py"], proposed[1].edits);
    assert.equal(pricing, FILES["pkg/pricing.py"].replace('"""Prices and taxes."""', '"""Prices, taxes and rounding."""'));
  }));

  test("applyEdit: a hunk not in the file is refused with its closest line; outside paths refused", failWithStderr(async () => {
    const text = [
      "pkg/pricing.py", "<<<<<<< SEARCH", "def compute_totals(items, region):", "=======",
      "def compute_totals(items, region, rounding):", ">>>>>>> REPLACE", "",
      "../outside.py", "<<<<<<< SEARCH", "x = 1", "=======", "x = 2", ">>>>>>> REPLACE", "",
    ].join("\n");
    const r = await request(rq.METHODS.applyEdit, rq.applyEditParams(text));
    assert.equal(r.ok, false);
    assert.deepEqual(r.edit.documentChanges, [], "nothing to apply");
    const [bad, outsideHunk] = r.hunks;
    assert.equal(bad.applied, false);
    assert.equal(bad.uri, fx.uri("pkg/pricing.py"));
    const sig = lineOf("pkg/pricing.py", "def compute_total(") + 1;
    assert.equal(bad.candidates[0].line, sig, JSON.stringify(bad.candidates));
    assert.ok(bad.candidates[0].similarity > 0.5 && bad.candidates[0].similarity < 1);
    assert.equal(outsideHunk.applied, false);
    assert.match(outsideHunk.reason, /outside/);
    const notice = rq.refusalNotice(r);
    assert.match(notice, /^0\/2 hunks placed, 2 refused; nothing applied\. pkg\/pricing\.py hunk 1: .+; closest: line \d+ \(similarity 0\.\d\d\)/);
    const report = rq.applyReport(r);
    assert.ok(report.some((l) => l.startsWith(`    closest: line ${sig} (similarity `) && l.endsWith("def compute_total(items, country):")), report.join("\n"));
    await assert.rejects(request(rq.METHODS.applyEdit, rq.applyEditParams("no edit in this answer, just prose")),
      (e) => e.code === INVALID_PARAMS);
  }));

  test("$/progress uses only tokens the server created with window/workDoneProgress/create", failWithStderr(() => {
    // Whether indexing reported progress depends on timing; every report must use a created token.
    for (const p of progress) assert.ok(createdTokens.includes(p.token), `progress token ${p.token} was created`);
  }));

  test("shutdown and exit", failWithStderr(async () => {
    assert.equal(await request("shutdown"), null);
    await conn.sendNotification("exit");
    await withTimeout(new Promise((resolve) => (exitCode !== undefined ? resolve() : proc.on("exit", resolve))), "exit");
    assert.equal(exitCode, 0, "exit code after shutdown + exit");
  }));
});
