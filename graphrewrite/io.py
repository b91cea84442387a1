"""Reading and writing graphs: GraphDef as binary .pb or text .pbtxt, detected by content.

Writes are atomic (a temporary file in the same folder, then a rename) and deterministic
(binary output uses protobuf's deterministic serialisation), so a failed run never leaves a
partial file and the same graph always gives the same bytes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from graphrewrite import _tf
from graphrewrite.engine.errors import GraphFileError

TEXT_SUFFIXES = (".pbtxt", ".txt", ".prototxt")
_TEXT_STARTS = (b"node", b"versions", b"library", b"#")


def load_graph(path: str | os.PathLike[str]) -> Any:
    """The GraphDef stored at *path*, binary or text, whichever the content is."""
    path = Path(path).expanduser()
    if path.is_dir():
        hint = " (a SavedModel: use 'graphrewrite freeze --input_saved_model_dir')" if (path / "saved_model.pb").exists() else ""
        raise GraphFileError(f"'{path}' is a directory, not a GraphDef file{hint}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraphFileError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if not data.strip():
        raise GraphFileError(f"'{path}' is empty")
    return parse_graph(data, str(path))


def parse_graph(data: bytes, name: str = "<bytes>") -> Any:
    """Parse GraphDef *data*: text format when it looks like text, binary otherwise."""
    if _looks_like_text(data):
        return _parse_text(data, name)
    graph_def = _tf.pb().GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as exc:  # protobuf raises DecodeError or RuntimeError by backend
        if _is_utf8(data):
            return _parse_text(data, name)
        raise GraphFileError(f"'{name}' is not a GraphDef: binary parse failed ({_reason(exc)}); truncated or not a graph?") from None
    if not graph_def.node or any(not n.name or not n.op for n in graph_def.node):
        raise GraphFileError(f"'{name}' is not a GraphDef: it parses as binary protobuf but holds no named nodes")
    return graph_def


def _parse_text(data: bytes, name: str) -> Any:
    from google.protobuf import text_format

    graph_def = _tf.pb().GraphDef()
    try:
        text_format.Parse(data.decode("utf-8"), graph_def)
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise GraphFileError(f"'{name}' is not a text GraphDef: {_reason(exc)}") from None
    return graph_def


def _looks_like_text(data: bytes) -> bool:
    head = data.lstrip()[:16]
    return head.startswith(_TEXT_STARTS) and _is_utf8(data[:4096])


def _is_utf8(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c.isspace() for c in text[:4096])


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def save_graph(graph_def: Any, path: str | os.PathLike[str], as_text: bool | None = None) -> None:
    """Write *graph_def* atomically; text format when *as_text*, or by a .pbtxt suffix."""
    path = Path(path).expanduser()
    if as_text is None:
        as_text = path.suffix.lower() in TEXT_SUFFIXES
    if as_text:
        from google.protobuf import text_format

        data = text_format.MessageToString(graph_def).encode()
    else:
        data = graph_def.SerializeToString(deterministic=True)
    write_atomic(path, data)


def write_atomic(path: Path, data: bytes) -> None:
    """Write *data* to *path* via a temporary file and a rename; nothing partial is left."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise GraphFileError(f"cannot write '{path}': folder '{folder}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise GraphFileError(f"cannot write '{path}': {exc.strerror or exc}") from None


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (used to refuse overwriting an input)."""
    pa, pb_ = Path(a).expanduser(), Path(b).expanduser()
    try:
        return pa.exists() and pb_.exists() and pa.samefile(pb_)
    except OSError:
        return False
