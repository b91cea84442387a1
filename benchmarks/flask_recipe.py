"""The tutorial's serving recipe, as people copy it: a frozen graph loaded once into a
``tf.compat.v1`` session, a Flask ``POST /predict`` taking ``{"instances": ...}``, Flask's
threaded development server. Benchmark-only (flask is not a graphrewrite dependency).

    python -m benchmarks.flask_recipe MODEL.pb INPUT OUTPUT PORT
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    model, input_name, output_name, port = argv
    import numpy as np
    import tensorflow as tf
    from flask import Flask, jsonify, request

    graph_def = tf.compat.v1.GraphDef()
    with open(model, "rb") as f:
        graph_def.ParseFromString(f.read())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    x = graph.get_tensor_by_name(f"{input_name}:0")
    y = graph.get_tensor_by_name(f"{output_name}:0")
    app = Flask(__name__)

    @app.route("/predict", methods=["POST"])
    def predict():
        data = request.get_json(force=True)
        batch = np.array(data["instances"], dtype=np.float32)
        out = session.run(y, feed_dict={x: batch})
        return jsonify({"predictions": out.tolist()})

    app.run(host="127.0.0.1", port=int(port), threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
