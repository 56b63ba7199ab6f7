"""Graph: every file's facts → the file import graph and the symbol def→ref graph.

`imports` resolves import strings to repository files per language, `link` links references to
definitions and builds `RepoGraph`, `export` writes it as JSON or Graphviz DOT."""
