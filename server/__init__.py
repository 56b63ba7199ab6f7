"""repoctx's language server (pygls): a thin layer over the repoctx library API. Not built yet."""
