"""``graphrewrite batch``: freeze, transform and verify many models, each isolated in its own
process, resumable, on local cores or an existing Dask cluster.

- :mod:`~graphrewrite.batch.manifest`: which models, from a glob or a TOML/YAML manifest.
- :mod:`~graphrewrite.batch.job`: one model, end to end, in the current process.
- :mod:`~graphrewrite.batch.isolate`: one model in a child process with a timeout and a
  memory cap, so that a crash, a hang or a blow-up is a result, not the end of the batch.
- :mod:`~graphrewrite.batch.executors`: where the children run (a local pool, or Dask).
- :mod:`~graphrewrite.batch.results`: results as JSON lines, the resume keys, the table.
- :mod:`~graphrewrite.batch.run`: the batch itself.
"""
