"""Eval: how well packs hold the code real changes touched (`repoctx eval`).

`tasks` mines tasks from history, `baselines` are the BM25 packers compared against, `metrics`
scores packs, `run` runs the measurement and `report` prints it."""
