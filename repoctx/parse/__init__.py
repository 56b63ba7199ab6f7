"""Parse: a file's bytes → its `FileFacts` (definitions, references, imports) with tree-sitter.

`extract` is the generic extractor (tags queries, import readers, partial trees); `languages` holds
the per-language specs: grammar, tags query, import query and reader, comment syntax."""
