"""Write the op registry of the installed TensorFlow as targets/data/tf_ops/MAJOR.MINOR.json.

``check --target=tf --tf_version=2.16`` reads that file: an op missing from it, or an attribute
that op does not have there, will not load in that TensorFlow. Run this script under each
TensorFlow you want to ship a list for (e.g. in a venv with ``tensorflow-cpu==2.16.2``)::

    python tools/gen_tf_ops.py            # writes graphrewrite/targets/data/tf_ops/<version>.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def registry() -> tuple[str, dict[str, list[str]]]:
    """The installed TensorFlow's version and {op: sorted attribute names} of every registered op."""
    import tensorflow as tf
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    ops = op_def_pb2.OpList()
    buffer = pywrap_tf_session.TF_GetAllOpList()
    try:
        ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(buffer))
    finally:
        pywrap_tf_session.TF_DeleteBuffer(buffer)
    major, minor = tf.__version__.split(".")[:2]
    return f"{major}.{minor}", {op.name: sorted(a.name for a in op.attr) for op in sorted(ops.op, key=lambda o: o.name)}


def main() -> int:
    version, ops = registry()
    out = Path(__file__).resolve().parent.parent / "graphrewrite" / "targets" / "data" / "tf_ops" / f"{version}.json"
    out.write_text(json.dumps({"tensorflow": version, "ops": ops}, indent=0, sort_keys=True) + "\n")
    print(f"{out}: {len(ops)} ops", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
