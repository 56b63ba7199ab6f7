"""Graph: every file's facts → the file import graph and the symbol def→ref graph.

`imports` resolves import strings to repository files per language, `link` links references to
definitions and builds `RepoGraph`, `store` keeps it on disk (read by lookups, and after an edit
made from the previous state's file by relinking only the files the edit reaches), `export` writes it
as JSON or Graphviz DOT."""
