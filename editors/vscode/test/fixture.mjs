// A small git repository for the tests: Python and JavaScript files where a function in one file
// calls a function defined in another. Shared by the Node test and the code-server e2e script.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const REPORTS = Array.from({ length: 80 }, (_, i) => `
def report_section_${i}(rows):
    """Summarise section ${i} of the quarterly report."""
    selected = [row for row in rows if row.get("section") == ${i}]
    return {"section": ${i}, "count": len(selected), "sum": sum(r.get("value", 0) for r in selected)}
`).join("\n");

export const FILES = {
  "README.md": "# shop\n\nA tiny shop used as a repoctx test fixture.\n",
  "pkg/__init__.py": "",
  "pkg/pricing.py": `"""Prices and taxes."""

TAX_RATES = {"de": 0.19, "fr": 0.2}


def compute_total(items, country):
    """Sum of the item prices with the country's tax."""
    subtotal = sum(item.price * item.quantity for item in items)
    rate = TAX_RATES.get(country, 0.0)
    return round(subtotal * (1 + rate), 2)


def format_money(amount):
    return f"{amount:.2f} EUR"
`,
  "pkg/checkout.py": `"""Checkout flow."""
from pkg.pricing import compute_total, format_money


class Cart:
    def __init__(self, items, country):
        self.items = items
        self.country = country


def checkout(cart):
    """Charge the cart and return the receipt line."""
    total = compute_total(cart.items, cart.country)
    return "Total: " + format_money(total)
`,
  "pkg/reports.py": `"""Quarterly reports (unrelated to checkout; makes the repository larger than small budgets)."""
${REPORTS}`,
  "web/format.js": `export function formatPrice(cents) {
  return (cents / 100).toFixed(2) + " EUR";
}
`,
  "web/index.js": `import { formatPrice } from "./format.js";

export function renderTotal(element, cents) {
  element.textContent = "Total: " + formatPrice(cents);
}
`,
};

/** 0-based line of the first line of FILES[path] that contains `needle`. */
export function lineOf(path, needle) {
  const i = FILES[path].split("\n").findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`${needle} not in ${path}`);
  return i;
}

/** 0-based [first, last] lines of the top-level `def name` / `function name` block in FILES[path]. */
export function blockOf(path, name) {
  const lines = FILES[path].split("\n");
  const first = lines.findIndex((l) => l.startsWith(`def ${name}(`) || l.includes(`function ${name}(`));
  if (first < 0) throw new Error(`${name} not in ${path}`);
  let last = first;
  for (let i = first + 1; i < lines.length; i++) {
    if (lines[i] === "" || /^\S/.test(lines[i])) {
      if (/^[})]/.test(lines[i])) last = i;
      break;
    }
    last = i;
  }
  return [first, last];
}

function git(root, ...args) {
  execFileSync("git", args, {
    cwd: root,
    stdio: "pipe",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com",
      GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1",
    },
  });
}

/** Writes the fixture into a new temp dir, `git init`s and commits it. Returns paths and helpers. */
export function makeFixture(prefix = "repoctx-vscode-") {
  const root = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  for (const [rel, text] of Object.entries(FILES)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
  git(root, "init", "-q", "-b", "main");
  git(root, "add", "-A");
  git(root, "commit", "-q", "-m", "shop fixture");
  return {
    root,
    rootUri: pathToFileURL(root).href,
    path: (rel) => join(root, rel),
    uri: (rel) => pathToFileURL(join(root, rel)).href,
  };
}
