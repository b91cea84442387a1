"""Side-by-side benchmarks: graphrewrite against GTT's C++ binding, grappler and
``optimize_for_inference``, on the same frozen graphs in the same run.

Run ``python -m benchmarks.run [--quick]``; see benchmarks/README.md for the method and the
latest table. Every measured tool run happens in its own subprocess (``benchmarks.worker``),
so peak memory is honest and one crashing tool fails one cell, never the table.
"""
