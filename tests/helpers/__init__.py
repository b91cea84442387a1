"""Helpers the test suites share: tiny graphs built node by node and run in TensorFlow
and TF1-style graphs (rule_graphs), one structural transform through the driver (structural),
the compression transforms and GTT's C++ binding as an oracle (compression), and the verify
tests' two equivalent graphs (verify_graphs), small random graphs and the standard transforms
by name (random_graphs), a TF1 model with a checkpoint on disk (tf1_models), probe graphs
whose check --target verdict must agree with the real runtime (target_probes). Test modules import them as
``tests.helpers.<module>`` (pyproject's pytest ``pythonpath`` puts the checkout on the path);
no test edits ``sys.path``.
"""
