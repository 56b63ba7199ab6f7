/**
 * Everything the extension sends to the repoctx language server, built from plain values.
 *
 * This module does not import `vscode`, so the Node test (test/server.test.mjs) loads the very same
 * builders (compiled to out/requests.js) and drives the real server with the extension's params.
 */

/** LSP position: 0-based line and UTF-16 character. */
export interface Position {
  line: number;
  character: number;
}

/** LSP range: `end` exclusive. */
export interface Range {
  start: Position;
  end: Position;
}

export type Format = "xml" | "markdown" | "plain";
export type Mode = "auto" | "whole" | "slice";

export const FORMATS: readonly Format[] = ["xml", "markdown", "plain"];

/** Custom request methods of the server. */
export const METHODS = {
  context: "repoctx/context",
  pack: "repoctx/pack",
  map: "repoctx/map",
} as const;

/** The same operations as `workspace/executeCommand` commands (`arguments: [params]`). */
export const SERVER_COMMANDS = {
  context: "repoctx.context",
  pack: "repoctx.pack",
  map: "repoctx.map",
} as const;

/** The extension's own (palette) command ids; distinct from the server's executeCommand ids. */
export const EXTENSION_COMMANDS = {
  copyContext: "repoctx.copyContext",
  packToFile: "repoctx.packToFile",
  showMap: "repoctx.showMap",
  restartServer: "repoctx.restartServer",
} as const;

/** The `repoctx.*` settings as read from the editor configuration (null or missing = unset). */
export interface Settings {
  serverCommand?: readonly string[] | null;
  pythonPath?: string | null;
  budget?: number | null;
  encoding?: string | null;
  format?: string | null;
  include?: readonly string[] | null;
  exclude?: readonly string[] | null;
  lineNumbers?: boolean | null;
}

/** The server's options: `initializationOptions` and `settings.repoctx` of didChangeConfiguration. */
export interface ServerOptions {
  budget?: number;
  encoding?: string;
  format?: Format;
  include?: string[];
  exclude?: string[];
}

export interface ContextParams {
  textDocument: { uri: string };
  range?: Range;
  position?: Position;
  query?: string;
  budget?: number;
  format?: Format;
  lineNumbers?: boolean;
}

export interface PackParams {
  query?: string;
  budget?: number;
  format?: Format;
  mode?: Mode;
}

export interface MapParams {
  budget?: number;
  focus?: string;
}

export interface FileSpans {
  uri: string;
  /** 1-based inclusive line ranges. */
  spans: [number, number][];
}

export interface ContextResult {
  text: string;
  tokens: number;
  budget: number;
  encoding: string;
  mode?: string;
  files?: FileSpans[];
}

export type PackResult = ContextResult;

export interface MapResult {
  text: string;
  tokens: number;
  budget: number;
  encoding: string;
}

export const DEFAULT_SERVER_COMMAND: readonly string[] = ["repoctx", "serve"];

function nonEmptyString(v: unknown): v is string {
  return typeof v === "string" && v.trim() !== "";
}

function positiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

function isFormat(v: unknown): v is Format {
  return typeof v === "string" && (FORMATS as readonly string[]).includes(v);
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter(nonEmptyString) : [];
}

/**
 * The program and arguments that start the server on stdio.
 * `pythonPath` wins: `<python> -m repoctx serve`; else `serverCommand` (default `repoctx serve`).
 */
export function serverCommand(settings: Settings): { command: string; args: string[] } {
  if (nonEmptyString(settings.pythonPath)) {
    return { command: settings.pythonPath, args: ["-m", "repoctx", "serve"] };
  }
  const cmd = stringList(settings.serverCommand);
  const argv = cmd.length > 0 ? cmd : [...DEFAULT_SERVER_COMMAND];
  return { command: argv[0], args: argv.slice(1) };
}

/**
 * The server options from the settings. Unset values (null, empty string, empty list) are left out,
 * so the repository's own configuration and the server's defaults apply to them.
 */
export function serverOptions(settings: Settings): ServerOptions {
  const out: ServerOptions = {};
  if (positiveInt(settings.budget)) out.budget = settings.budget;
  if (nonEmptyString(settings.encoding)) out.encoding = settings.encoding.trim();
  if (isFormat(settings.format)) out.format = settings.format;
  const include = stringList(settings.include);
  if (include.length > 0) out.include = include;
  const exclude = stringList(settings.exclude);
  if (exclude.length > 0) out.exclude = exclude;
  return out;
}

/** `initializationOptions` of the `initialize` request. */
export function initializationOptions(settings: Settings): ServerOptions {
  return serverOptions(settings);
}

/** Params of `workspace/didChangeConfiguration` after a `repoctx.*` setting changed. */
export function didChangeConfigurationParams(settings: Settings): { settings: { repoctx: ServerOptions } } {
  return { settings: { repoctx: serverOptions(settings) } };
}

function isEmptyRange(r: Range): boolean {
  return r.start.line === r.end.line && r.start.character === r.end.character;
}

/**
 * `repoctx/context` for a selection: a non-empty selection is sent as `range`, an empty one (a cursor)
 * as `position`. `query`, `budget`, `format`, `lineNumbers` are sent only when given.
 */
export function contextParams(
  uri: string,
  selection: Range,
  opts: { query?: string; budget?: number | null; format?: string | null; lineNumbers?: boolean | null } = {},
): ContextParams {
  const params: ContextParams = { textDocument: { uri } };
  if (isEmptyRange(selection)) {
    params.position = { line: selection.start.line, character: selection.start.character };
  } else {
    params.range = {
      start: { line: selection.start.line, character: selection.start.character },
      end: { line: selection.end.line, character: selection.end.character },
    };
  }
  if (nonEmptyString(opts.query)) params.query = opts.query;
  if (positiveInt(opts.budget)) params.budget = opts.budget;
  if (isFormat(opts.format)) params.format = opts.format;
  if (opts.lineNumbers === true) params.lineNumbers = true;
  return params;
}

/**
 * `repoctx/context` for a whole document (the status bar count): the range from the first character
 * to the end of the last line. `lineCount` >= 1; `lastLineLength` is the last line's length in UTF-16 units.
 */
export function fileContextParams(uri: string, lineCount: number, lastLineLength: number): ContextParams {
  const last = Math.max(0, lineCount - 1);
  return {
    textDocument: { uri },
    range: { start: { line: 0, character: 0 }, end: { line: last, character: Math.max(0, lastLineLength) } },
  };
}

/** `repoctx/pack`: the whole workspace, optionally ranked by a query. */
export function packParams(opts: { query?: string | null; budget?: number | null; format?: string | null; mode?: string | null } = {}): PackParams {
  const params: PackParams = {};
  if (nonEmptyString(opts.query)) params.query = opts.query.trim();
  if (positiveInt(opts.budget)) params.budget = opts.budget;
  if (isFormat(opts.format)) params.format = opts.format;
  if (opts.mode === "auto" || opts.mode === "whole" || opts.mode === "slice") params.mode = opts.mode;
  return params;
}

/** `repoctx/map`, personalised to the focused document when there is one. */
export function mapParams(opts: { budget?: number | null; focus?: string | null } = {}): MapParams {
  const params: MapParams = {};
  if (positiveInt(opts.budget)) params.budget = opts.budget;
  if (nonEmptyString(opts.focus)) params.focus = opts.focus;
  return params;
}

/** The same request as a `workspace/executeCommand`. */
export function executeCommandParams(
  command: (typeof SERVER_COMMANDS)[keyof typeof SERVER_COMMANDS],
  params: ContextParams | PackParams | MapParams,
): { command: string; arguments: unknown[] } {
  return { command, arguments: [params] };
}

/** The format a pack file's name asks for: `.md` markdown, `.txt` plain, `.xml` xml; else undefined. */
export function formatForPath(path: string): Format | undefined {
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  switch (m?.[1].toLowerCase()) {
    case "md":
    case "markdown":
      return "markdown";
    case "txt":
    case "text":
      return "plain";
    case "xml":
      return "xml";
    default:
      return undefined;
  }
}

/** File-name extension for a pack in `format` (save dialog default). */
export function extensionForFormat(format: string | null | undefined): string {
  switch (format) {
    case "markdown":
      return "md";
    case "plain":
      return "txt";
    default:
      return "xml";
  }
}

function n(x: number): string {
  return x.toLocaleString("en-US");
}

/** "1,234 / 8,000 tokens (o200k_base)". */
export function tokenSummary(r: { tokens: number; budget: number; encoding: string }): string {
  return `${n(r.tokens)} / ${n(r.budget)} tokens (${r.encoding})`;
}

/** The notification text after a context or pack: tokens, budget, encoding, files, mode. */
export function resultSummary(what: string, r: ContextResult): string {
  const parts = [`${what}: ${tokenSummary(r)}`];
  if (r.files) parts.push(`${r.files.length} file${r.files.length === 1 ? "" : "s"}`);
  if (r.mode) parts.push(`mode ${r.mode}`);
  return parts.join(", ");
}

/** The status bar text: "$(symbol-namespace) 1,234 tok". */
export function statusText(r: { tokens: number }): string {
  return `$(symbol-namespace) ${n(r.tokens)} tok`;
}
