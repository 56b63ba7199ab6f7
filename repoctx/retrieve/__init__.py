"""Retrieve: a query and focus → ranked chunks and symbols.

`chunks` cuts files into symbol-sized chunks, `bm25` is the identifier-aware tokenizer and BM25
index, `rank` fuses BM25 with a personalised PageRank over the graph (`RetrievalIndex`), and
`search` answers symbol searches for the CLI, the editors and agents."""
