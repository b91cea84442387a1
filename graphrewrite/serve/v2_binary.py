"""The binary tensor data extension of the Open Inference Protocol (Triton's, used by its clients).

A request whose ``Inference-Header-Content-Length: N`` header is set carries N bytes of JSON,
then the raw bytes of every input whose ``parameters`` say ``binary_data_size``, in the order
the inputs are listed: little-endian, row-major; ``BYTES`` elements each prefixed by a 4-byte
length. Outputs are sent the same way when the request asks (``binary_data_output`` in the
request's parameters or ``binary_data`` in an output's).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from graphrewrite.serve.signature import TensorSpec
from graphrewrite.serve.status import invalid


@attrs.frozen
class BinaryReply:
    """A response body of JSON header then tensor bytes, and the header's length."""

    body: bytes
    header_length: int


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(JSON header, binary rest) by the ``Inference-Header-Content-Length`` header."""
    if header_length is None:
        return body, b""
    if not header_length.strip().isdigit() or int(header_length) > len(body):
        raise invalid(f"Inference-Header-Content-Length {header_length!r} does not fit a body of {len(body)} bytes")
    size = int(header_length)
    return body[:size], body[size:]


def binary_chunks(items: list[Any], binary: bytes) -> dict[str, bytes]:
    """Input name -> its raw bytes, cut from *binary* in the order the inputs are listed."""
    chunks, offset = {}, 0
    for item in items:
        size = (item.get("parameters") or {}).get("binary_data_size") if isinstance(item, dict) else None
        if size is None:
            continue
        if not isinstance(size, int) or size < 0 or offset + size > len(binary):
            raise invalid(f"input '{item.get('name')}': binary_data_size {size!r} runs past the {len(binary)} binary bytes")
        chunks[item.get("name")] = binary[offset:offset + size]
        offset += size
    if offset != len(binary):
        raise invalid(f"{len(binary) - offset} binary bytes are not claimed by any input's binary_data_size")
    return chunks


def from_bytes(data: bytes, spec: TensorSpec, shape: list[int]) -> np.ndarray:
    """An input's raw bytes as an array of *shape*."""
    count = int(np.prod(shape))
    if spec.dtype == "string":
        values, offset = [], 0
        while offset < len(data):
            (size,) = struct.unpack_from("<I", data, offset)
            values.append(data[offset + 4:offset + 4 + size])
            offset += 4 + size
        out = np.empty(len(values), dtype=object)
        out[:] = values
    else:
        dtype = spec.np_dtype.newbyteorder("<")
        if len(data) != count * dtype.itemsize:
            raise invalid(f"input '{spec.key}': {len(data)} binary bytes do not fill shape {shape} of {spec.v2_datatype}")
        out = np.frombuffer(data, dtype=dtype).astype(spec.np_dtype)
    if out.size != count:
        raise invalid(f"input '{spec.key}': {out.size} values do not fill shape {shape}")
    return out.reshape(shape)


def wants_binary(doc: Mapping[str, Any], key: str) -> bool:
    """Whether output *key* is to be sent as binary data."""
    if (doc.get("parameters") or {}).get("binary_data_output"):
        return True
    for item in doc.get("outputs") or []:
        if isinstance(item, dict) and item.get("name") == key:
            return bool((item.get("parameters") or {}).get("binary_data"))
    return False


def to_bytes(value: np.ndarray) -> bytes:
    """An output's raw bytes: little-endian row-major, BYTES elements length-prefixed."""
    if value.dtype.kind == "O":
        items = [v if isinstance(v, bytes) else str(v).encode() for v in value.ravel().tolist()]
        return b"".join(struct.pack("<I", len(v)) + v for v in items)
    return np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
