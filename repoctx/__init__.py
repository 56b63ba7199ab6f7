"""repoctx: gives language models the right code from a repository.

The public API — what the front ends (`repoctx.cli`, the `repoctx_server` language and agent
servers) use, and all they use:

    from repoctx import load_repository, PackRequest, pack
    repo = load_repository(".")
    result = pack(repo, PackRequest("why does retry ignore the timeout", budget=32_000))

    ws = Workspace("/path/to/repo"); ws.load()       # a repository kept loaded (editors, agents)
    ws.pack(PackRequest(query="…"))

Names are loaded on first use, so `import repoctx` costs nothing a command does not need.
"""
__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS = {
    "Repository": "repoctx.index.load", "load_repository": "repoctx.index.load",
    "index_repository": "repoctx.index.load", "IndexError_": "repoctx.index.store",
    "ScanOptions": "repoctx.scan", "locate": "repoctx.scan",
    "Settings": "repoctx.settings", "load_settings": "repoctx.settings", "ConfigError": "repoctx.settings",
    "FORMATS": "repoctx.settings", "MODES": "repoctx.settings", "from_client": "repoctx.settings",
    "check_setting": "repoctx.settings",
    "PackRequest": "repoctx.pack.request", "RequestError": "repoctx.pack.request",
    "parse_focus": "repoctx.pack.request",
    "Packer": "repoctx.pack.packer", "PackError": "repoctx.pack.packer", "NoChange": "repoctx.pack.packer",
    "split_pack": "repoctx.pack.split", "SplitError": "repoctx.pack.split", "skipped_note": "repoctx.stats",
    "change_impact": "repoctx.impact", "fit_impact": "repoctx.impact",
    "Focus": "repoctx.model", "PackResult": "repoctx.model", "Symbol": "repoctx.model",
    "result_dict": "repoctx.render", "shown_path": "repoctx.render", "REDACTION_OFF": "repoctx.secrets",
    "search": "repoctx.retrieve.search", "find_symbols": "repoctx.retrieve.search",
    "Workspace": "repoctx.workspace", "Location": "repoctx.workspace", "OutsideWorkspace": "repoctx.workspace",
    "GitError": "repoctx.git", "confine": "repoctx.files",
    "plan_edit": "repoctx.apply.apply", "write_edit": "repoctx.apply.apply", "NoEdit": "repoctx.apply.parse",
    "ChangedOnDisk": "repoctx.apply.apply", "Written": "repoctx.apply.apply", "WriteFailed": "repoctx.apply.apply",
    "format_plan": "repoctx.apply.report",
    "EncodingUnavailable": "repoctx.tokens", "count_tokens": "repoctx.tokens", "get_encoding": "repoctx.tokens",
}
_RENAMED = {"fit_impact": "fit", "check_setting": "check", "count_tokens": "count", "plan_edit": "plan", "write_edit": "write"}

__all__ = ["__version__", "pack"] + list(_EXPORTS)


def __getattr__(name: str):
    if name == "pack":  # the package `repoctx.pack` is callable: pack(repo, request)
        import repoctx.pack
        return repoctx.pack
    if name not in _EXPORTS:
        raise AttributeError(f"module 'repoctx' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(_EXPORTS[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value
