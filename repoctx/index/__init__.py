"""Index: facts persisted by blob SHA, so unchanged files are never parsed or counted again.

`store` is the SQLite store, `update` parses and counts what the store lacks (in worker processes),
`cache` keeps derived data (graph, retrieval index) beside it by repository state, and `load` turns
a scan and the store into a `Repository`, the loaded state every later stage reads."""
