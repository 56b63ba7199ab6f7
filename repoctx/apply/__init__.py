"""Apply a model's edit: `parse` (unified diff, SEARCH/REPLACE, apply_patch -> one edit model) ->
`match` (the relaxation ladder, one place or a refusal) -> `apply` (`plan` against the current texts,
then `write`: all or nothing, atomic). `report` formats a plan for people."""
