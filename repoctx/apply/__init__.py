"""Apply a model's edit: parse (unified diff, search/replace, apply_patch) -> match (the relaxation
ladder) -> apply (all or nothing, atomic). `plan(text, root)` then `write(plan)`."""
from repoctx.apply.apply import ChangedOnDisk, Plan, plan, write
from repoctx.apply.parse import NoEdit, parse

__all__ = ["ChangedOnDisk", "NoEdit", "Plan", "parse", "plan", "write"]
