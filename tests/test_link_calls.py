"""Which uses of a name are calls of a definition (graph/link.py, parse/extract.py): the rules of the
language decide, and a use they cannot narrow to one definition is left out. Each fixture is a real
git repository, indexed and linked as `repoctx` does it."""
from __future__ import annotations

from pathlib import Path

from conftest import make_repo

from repoctx.index.load import load_repository
from repoctx.scan import ScanOptions


def callers(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    """target id -> ids of its callers, in a repository of `files`."""
    root = make_repo(tmp_path / "repo", files)
    repo = load_repository(str(root), ScanOptions(), index_path=str(tmp_path / "ix" / "index.sqlite"))
    out: dict[str, set[str]] = {}
    for source, target, _ in repo.graph.references:
        out.setdefault(target, set()).add(source)
    return out


APP_JS = """\
var app = exports = module.exports = {};

app.init = function init() {
  this.settings = {};
  this.configure();
  var self = this;
  function later() {
    this.enable('x');
  }
  return {
    get: function () {
      return this.enabled('x');
    },
    arrow: () => this.enable('y'),
  };
};

app.configure = function configure() {
  this.enable('x');
  this.helper();
  self.enabled('x');
};

app.enable = function enable(setting) {
  return setting;
};

app.enabled = function enabled(setting) {
  return !!setting;
};

function helper() {
  return 1;
}
"""


def test_js_this_is_the_object_a_method_is_assigned_to_and_nothing_else(tmp_path):
    """`this.x` in `obj.m = function` is obj's member x; a function declared inside a method and
    an object literal's method have a `this` of their own (unknown: left out); an arrow function's
    is its enclosing method's; `this.helper()` is never the top-level function `helper`, and
    JavaScript's `self` is a variable, not the method's object."""
    got = callers(tmp_path, {"lib/app.js": APP_JS})
    assert got["lib/app.js:app.configure"] == {"lib/app.js:app.init"}
    assert got["lib/app.js:app.enable"] == {"lib/app.js:app.configure", "lib/app.js:app.init.arrow"}
    assert "lib/app.js:app.enabled" not in got  # the literal's `get` and the variable `self`
    assert "lib/app.js:helper" not in got


def test_python_self_member_is_never_a_module_function(tmp_path):
    got = callers(tmp_path, {"pkg/__init__.py": "", "pkg/mod.py": (
        "def send(x):\n    return x\n\n\nclass Client:\n    def send(self, x):\n        return x\n\n"
        "    def run(self):\n        self.send(1)\n        return self.close()\n\n\ndef close():\n    return 0\n")})
    assert got["pkg/mod.py:Client.send"] == {"pkg/mod.py:Client.run"}
    assert "pkg/mod.py:close" not in got  # `self.close()` is an attribute, not the module's close
    assert "pkg/mod.py:send" not in got


ROUTES_JS = """\
var express = require('express');
var app = module.exports = express();

var users = {
  list: function (req, res) { res.send('users'); },
  remove: function (req, res) { res.send('gone'); },
};

app.map = function (a, route) {
  for (var key in a) {
    app.map(a[key], route + key);
  }
};

app.map({
  '/users': { get: users.list, delete: users.remove },
});

function mount(app) {
  app.map({});
}

function remove() {}
app.unknown(remove);
"""


def test_js_a_member_of_an_object_the_file_builds_is_that_object_s(tmp_path):
    """`app.map(…)` and `users.list` name the members the same file assigns (`app.map = function`,
    `users = {list: …}`); a parameter of that name is another object, and a member the file does
    not assign is not guessed."""
    got = callers(tmp_path, {"routes.js": ROUTES_JS, "other.js": "exports.unknown = function () {};\n"})
    assert got["routes.js:app.map"] == {"routes.js:<module>"}  # not mount's parameter; recursion is no edge
    assert got["routes.js:users.list"] == {"routes.js:<module>"}
    assert got["routes.js:users.remove"] == {"routes.js:<module>"}
    assert "other.js:unknown" not in got


def test_commonjs_exports_member_is_the_module_s_own_export(tmp_path):
    got = callers(tmp_path, {"lib/utils.js": (
        "exports.normalize = function normalize(t) {\n  return t;\n};\n\n"
        "exports.normalizeAll = function (types) {\n  return types.map(exports.normalize);\n};\n\n"
        "module.exports.again = function (t) {\n  return module.exports.normalize(t);\n};\n"),
        "lib/other.js": "exports.normalize = function (t) {\n  return t;\n};\n"})
    assert got["lib/utils.js:normalize"] == {"lib/utils.js:normalizeAll", "lib/utils.js:again"}
    assert "lib/other.js:normalize" not in got


GO_FILES = {
    "go.mod": "module example.com/m\n\ngo 1.21\n",
    "cart/cart.go": ("package cart\n\ntype Cart struct{}\n\nfunc (c *Cart) Total() int { return 1 }\n\n"
                     "func New() *Cart { return &Cart{} }\n"),
    "server/engine.go": "package server\n\ntype Engine struct{}\n\nfunc (e *Engine) Run() error { return nil }\n",
    "main.go": ('package main\n\nimport (\n\t"errors"\n\t"testing"\n\n\t"example.com/m/cart"\n)\n\n'
                "func build() error {\n\tc := cart.New()\n\t_ = c.Total()\n\treturn errors.New(\"x\")\n}\n\n"
                "func check(t *testing.T) {\n\tt.Run(\"a\", nil)\n}\n\n"
                "func New() int { return 0 }\n"),
}


def test_go_package_member_is_that_package_s_and_a_value_member_is_no_guess(tmp_path):
    """`cart.New()` is the cart package's New; `errors.New` is another module's, not the New of
    the file's own package; `c.Total()` is a method the file sees (the imported package's);
    `t.Run()` on a `*testing.T` is not the only Run of the repository, in a package it does not see."""
    got = callers(tmp_path, GO_FILES)
    assert got["cart/cart.go:New"] == {"main.go:build"}
    assert "main.go:New" not in got
    assert got["cart/cart.go:Cart.Total"] == {"main.go:build"}
    assert "server/engine.go:Engine.Run" not in got


def test_c_member_is_no_function_and_a_plain_name_no_class_member(tmp_path):
    """`p->end` is a field of a struct, not the function `end` of another file; a plain `begin`
    in C is no C++ class's member `Range::begin` (the only `begin` in the repository)."""
    got = callers(tmp_path, {
        "util/end.c": "int end(int x) { return x; }\n",
        "pz/range.hpp": "class Range {\n public:\n  int begin() const { return 0; }\n};\n",
        "main.c": ("#include <s.h>\nint use(struct s *p, int begin) {\n  return p->end + begin;\n}\n"
                   "int call(void) {\n  return end(1);\n}\n")})
    assert got["util/end.c:end"] == {"main.c:call"}  # the call, not the field
    assert "pz/range.hpp:Range.begin" not in got


def test_js_an_object_key_binds_no_local(tmp_path):
    """`{count: req.count}` is an object's key, not a parameter `count: Type`: the plain `count`
    handed to `app.get` on the line that opens that callback is still the module's function."""
    got = callers(tmp_path, {"app.js": (
        "var app = require('express')();\n\nfunction count(req, res, next) {\n  next();\n}\n\n"
        "app.get('/m', count, function (req, res) {\n  res.render('index', {\n    title: 'Users',\n"
        "    count: req.count,\n  });\n});\n")})
    assert got["app.js:count"] == {"app.js:<module>"}


def test_each_line_goes_to_the_definition_its_receiver_names(tmp_path):
    """One function uses `user.list` and `post.list`: the graph has an edge to each, and each
    line is listed (references, call sites) for its own module only; a plain `resolve(…)` line is
    no use of the method `View.resolve` that `this.resolve(…)` calls on the next line."""
    from repoctx.retrieve.chunks import Chunk
    from repoctx.workspace import Workspace
    root = make_repo(tmp_path / "repo", {
        "user.js": "exports.list = function (req, res) {};\n",
        "post.js": "exports.list = function (req, res) {};\n",
        "index.js": ("var user = require('./user');\nvar post = require('./post');\n\n"
                     "function routes(app) {\n  app.get('/users', user.list);\n  app.get('/posts', post.list);\n}\n"),
        "view.js": ("var resolve = require('path').resolve;\n\nfunction View() {}\n\n"
                    "View.prototype.lookup = function (name) {\n  var loc = resolve('.', name);\n"
                    "  return this.resolve(loc);\n};\n\nView.prototype.resolve = function (file) {\n  return file;\n};\n")})
    ws = Workspace(str(root), index_path=str(tmp_path / "ix" / "index.sqlite"))
    ws.load()
    lines = {sid: [(loc.path, loc.start_line) for loc in ws.references_of(sid, include_declaration=False)]
             for sid in ("user.js:list", "post.js:list", "view.js:View.resolve")}
    assert lines == {"user.js:list": [("index.js", 5)], "post.js:list": [("index.js", 6)],
                     "view.js:View.resolve": [("view.js", 7)]}
    packer = ws.view().packer  # the pack's "called at" lines: the same
    chunk = Chunk("post.js", 1, 1, "list")  # the chunk that starts `list`
    assert [(caller, line) for caller, line in packer.closures.call_sites(chunk)] == [("index.js:routes", 6)]


def test_a_class_in_a_namespace_is_named_plainly_inside_it(tmp_path):
    """`Dayjs` inside `namespace dayjs` is used by its plain name there (a function `dayjs` sharing
    the namespace's id does not make the class a member reached only through a receiver)."""
    from repoctx.workspace import Workspace
    root = make_repo(tmp_path / "repo", {"types/index.d.ts": (
        "export = dayjs;\n\ndeclare function dayjs(date?: string): dayjs.Dayjs\n\n"
        "declare namespace dayjs {\n  class Dayjs {\n    constructor(config?: string)\n\n"
        "    clone(): Dayjs\n\n    add(value: number): Dayjs\n  }\n}\n")})
    ws = Workspace(str(root), index_path=str(tmp_path / "ix" / "index.sqlite"))
    ws.load()
    lines = [loc.start_line for loc in ws.references_of("types/index.d.ts:dayjs.Dayjs", include_declaration=False)]
    assert {9, 11} <= set(lines)
