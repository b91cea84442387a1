"""``graphrewrite batch``: freeze, transform and verify many models, each isolated in a worker
process, resumable, on local cores or an existing Dask cluster.

- :mod:`~graphrewrite.batch.manifest`: which models, from a glob or a TOML/YAML manifest.
- :mod:`~graphrewrite.batch.job`: one model, end to end, in the current process.
- :mod:`~graphrewrite.batch.workers`: warm worker processes that import TensorFlow once and
  run models one at a time, with a timeout and a memory cap, so that a crash, a hang or a
  blow-up is a result, not the end of the batch; :mod:`~graphrewrite.batch.worker` is their
  child side.
- :mod:`~graphrewrite.batch.executors`: where the children run (a local pool of warm workers, or Dask).
- :mod:`~graphrewrite.batch.results`: results as JSON lines, the resume keys, the table.
- :mod:`~graphrewrite.batch.run`: the batch itself.
"""
