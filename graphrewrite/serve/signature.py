"""What a served model takes and returns: tensor specs keyed as clients name them."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np

# TF dtype names (as tf.DType.name) -> numpy dtype, TF Serving's enum name, OIP v2 datatype.
DTYPES = {
    "float32": (np.dtype(np.float32), "DT_FLOAT", "FP32"),
    "float64": (np.dtype(np.float64), "DT_DOUBLE", "FP64"),
    "float16": (np.dtype(np.float16), "DT_HALF", "FP16"),
    "int8": (np.dtype(np.int8), "DT_INT8", "INT8"),
    "int16": (np.dtype(np.int16), "DT_INT16", "INT16"),
    "int32": (np.dtype(np.int32), "DT_INT32", "INT32"),
    "int64": (np.dtype(np.int64), "DT_INT64", "INT64"),
    "uint8": (np.dtype(np.uint8), "DT_UINT8", "UINT8"),
    "uint16": (np.dtype(np.uint16), "DT_UINT16", "UINT16"),
    "uint32": (np.dtype(np.uint32), "DT_UINT32", "UINT32"),
    "uint64": (np.dtype(np.uint64), "DT_UINT64", "UINT64"),
    "bool": (np.dtype(np.bool_), "DT_BOOL", "BOOL"),
    "string": (np.dtype(object), "DT_STRING", "BYTES"),
}

Shape = tuple[int | None, ...] | None


@attrs.frozen
class TensorSpec:
    """One input or output: the key clients use, the graph tensor (``x:0``), dtype and shape."""

    key: str
    tensor: str
    dtype: str  # TensorFlow's name: float32, int64, string...
    shape: Shape = None

    @property
    def np_dtype(self) -> np.dtype:
        return DTYPES[self.dtype][0]

    @property
    def tf_enum(self) -> str:
        return DTYPES[self.dtype][1]

    @property
    def v2_datatype(self) -> str:
        return DTYPES[self.dtype][2]

    @property
    def dims(self) -> list[int] | None:
        """The shape with -1 for unknown dims; None for unknown rank."""
        return None if self.shape is None else [-1 if d is None else d for d in self.shape]


@attrs.frozen
class Signature:
    """The serving signature of one model version (``serving_default``)."""

    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]
    name: str = "serving_default"

    @property
    def batchable(self) -> bool:
        """Whether every input and output has an unknown first dimension (a batch dimension)."""
        specs = [*self.inputs.values(), *self.outputs.values()]
        return bool(specs) and all(s.shape is not None and len(s.shape) >= 1 and s.shape[0] is None for s in specs)

    def metadata(self) -> dict:
        """The signature_def as TF Serving's metadata endpoint prints it."""
        return {
            "inputs": {k: _tensor_info(s) for k, s in self.inputs.items()},
            "outputs": {k: _tensor_info(s) for k, s in self.outputs.items()},
            "method_name": "tensorflow/serving/predict",
        }


def _tensor_info(spec: TensorSpec) -> dict:
    dims = spec.dims
    shape = {"dim": [], "unknown_rank": True} if dims is None else {
        "dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False}
    return {"dtype": spec.tf_enum, "tensor_shape": shape, "name": spec.tensor}
