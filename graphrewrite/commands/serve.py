"""``graphrewrite serve MODEL``: serve frozen graphs over TF Serving's REST API and OIP v2.

TF Serving's flags with their meaning (``--rest_api_port``, ``--model_name``,
``--model_base_path``, ``--model_config_file``, ``--enable_batching``, ``--max_batch_size``,
``--batch_timeout_micros``, ``--rest_api_timeout_in_ms``). Prints one line when ready:
``serving NAME version N at http://127.0.0.1:PORT``. Needs the ``serve`` extra.
"""

from __future__ import annotations

import argparse
import gc

from graphrewrite.engine.errors import UsageError

_EXTRA = "the HTTP server needs the serve extra: pip install 'graphrewrite[serve]'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="a frozen .pb/.pbtxt, a SavedModel folder, a .keras file, or a folder of version folders")
    parser.add_argument("--model_base_path", help="same as MODEL (TF Serving's flag)")
    parser.add_argument("--model_name", default="default", help="the name clients use in /v1/models/NAME (default: default)")
    parser.add_argument("--model_config_file", help="a ModelServerConfig text file listing several models")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="port to listen on; 0 picks a free one (default 8501)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--inputs", default="", help="inputs of a bare GraphDef (default: its Placeholders)")
    parser.add_argument("--outputs", default="", help="outputs of a bare GraphDef (default: the likely outputs)")
    parser.add_argument("--transforms", default="", help="a transform script applied to each model after loading")
    parser.add_argument("--enable_batching", nargs="?", const=True, default=False, type=_boolean, metavar="BOOL",
                        help="batch concurrent requests server-side (also --enable_batching=true, as TF Serving spells it)")
    parser.add_argument("--max_batch_size", type=int, default=32, help="rows per batch at most (default 32)")
    parser.add_argument("--batch_timeout_micros", type=int, default=1000, help="longest wait for a batch to fill (default 1000)")
    parser.add_argument("--rest_api_timeout_in_ms", type=int, default=30000, help="per-request deadline (default 30000)")
    parser.add_argument("--max_body_bytes", type=int, default=64 << 20, help="largest request body accepted (default 64 MiB)")


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(
        f"expected true or false, got {text!r} (write --enable_batching=true, or put MODEL first)")


def run(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError(_EXTRA) from None
    from graphrewrite.serve.app import ServerOptions, serve
    from graphrewrite.serve.batching import BatchOptions
    from graphrewrite.serve.models import LoadOptions, split_names
    from graphrewrite.serve.registry import load_registry

    _check(args)
    batch = BatchOptions(max_batch_size=args.max_batch_size, batch_timeout_micros=args.batch_timeout_micros) \
        if args.enable_batching else None
    load = LoadOptions(inputs=split_names(args.inputs), outputs=split_names(args.outputs), transforms=args.transforms)
    registry = load_registry(_configs(args), load, batch)
    # TensorFlow leaves ~10^6 Python objects behind; without this every collection triggered by
    # a request's JSON lists walks them all (parsing one image: 60 ms instead of 12 ms).
    # Process-wide, so done here, by the command, never by the library.
    gc.collect()
    gc.freeze()
    options = ServerOptions(host=args.host, port=args.rest_api_port, timeout_ms=args.rest_api_timeout_in_ms,
                            max_body_bytes=args.max_body_bytes)

    def ready(port: int) -> None:
        served = ", ".join(f"{m.name} version {max(m.versions)}" for m in registry.models.values())
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"serving {served} at http://{host}:{port}", flush=True)

    serve(registry, options, on_ready=ready)
    return 0


def _check(args: argparse.Namespace) -> None:
    if args.model and args.model_base_path and args.model != args.model_base_path:
        raise UsageError("serve: give the model as MODEL or --model_base_path, not both")
    if not (args.model or args.model_base_path or args.model_config_file):
        raise UsageError("serve: name a model (MODEL, --model_base_path or --model_config_file)")
    if args.model_config_file and (args.model or args.model_base_path):
        raise UsageError("serve: --model_config_file lists the models; do not also give MODEL")
    for flag in ("max_batch_size", "rest_api_timeout_in_ms", "max_body_bytes"):
        if getattr(args, flag) < 1:
            raise UsageError(f"serve: --{flag} must be 1 or more (got {getattr(args, flag)})")
    if args.batch_timeout_micros < 0 or not 0 <= args.rest_api_port <= 65535:
        raise UsageError("serve: --batch_timeout_micros must be >= 0 and --rest_api_port in 0..65535")


def _configs(args: argparse.Namespace) -> list:
    from graphrewrite.serve.config import ModelConfig, read_config_file

    if args.model_config_file:
        return read_config_file(args.model_config_file)
    return [ModelConfig(args.model_name, args.model or args.model_base_path)]


