"""``graphrewrite verify ORIGINAL TRANSFORMED``: do two graphs compute the same outputs?

Runs both graphs in TensorFlow (grappler off) on the same random or given inputs and prints,
per output, the largest absolute and relative error and whether it is within tolerance.
Exit status 0 when every output is within tolerance, 1 when one is not (or on an error such as
a missing file or an unknown name), 2 on bad usage.
"""

from __future__ import annotations

import argparse

from graphrewrite.engine.errors import UsageError

TOLERANCE_HELP = (
    "defaults depend on the transformed graph: rtol=1e-4 atol=1e-5 for float32 graphs, "
    "rtol=1e-2 atol=1e-3 when it computes in float16/bfloat16, rtol=5e-2 atol=1e-2 when it "
    "holds quantized types or (De)quantize ops; an output is within tolerance when "
    "|transformed - original| <= atol + rtol * |original| for every element (float32), or "
    "atol + rtol * max|original| over the output (float16 and quantized: see --relative_to)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("original", metavar="ORIGINAL", help="the reference GraphDef (.pb or .pbtxt)")
    parser.add_argument("transformed", metavar="TRANSFORMED", help="the GraphDef to check against it")
    parser.add_argument("--inputs", default="", help="comma-separated input names (default: the Placeholders)")
    parser.add_argument("--outputs", default="", help="comma-separated output names (default: the sink nodes)")
    parser.add_argument(
        "--input_shapes", default="", help='shapes for unknown dims, e.g. "x:1,224,224,3;y:1" (default: 1 per unknown dim)'
    )
    parser.add_argument("--input_file", help="an .npz file with one array per input (default: random inputs)")
    parser.add_argument("--rtol", type=float, help=f"relative tolerance; {TOLERANCE_HELP}")
    parser.add_argument("--atol", type=float, help="absolute tolerance (see --rtol for the defaults)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random inputs (default 0)")
    parser.add_argument(
        "--relative_to", choices=("element", "output"),
        help="rtol relative to each element, or to the output's largest magnitude "
        "(default: element for float32 graphs, output for float16 and quantized ones)",
    )  # fmt: skip
    parser.epilog = (
        "Random inputs: floats from N(0,1), ints in [0,10), random bools. "
        "Exit status: 0 within tolerance, 1 not within tolerance or an error, 2 bad usage."
    )


def run(args: argparse.Namespace) -> int:
    from graphrewrite import io
    from graphrewrite.verification import verify

    for name in ("rtol", "atol"):
        value = getattr(args, name)
        if value is not None and value < 0:
            raise UsageError(f"verify: --{name}={value} must not be negative")
    original = io.load_graph(args.original)
    transformed = io.load_graph(args.transformed)
    feeds = None
    if args.input_file:
        from graphrewrite.inputs import load_npz

        feeds = load_npz(args.input_file)
    report = verify(
        original,
        transformed,
        args.inputs or None,
        args.outputs or None,
        rtol=args.rtol,
        atol=args.atol,
        input_shapes=args.input_shapes or None,
        feeds=feeds,
        seed=args.seed,
        scale=args.relative_to,
    )
    print(report.table())
    if not report.ok:
        print(f"{len(report.failed)} of {len(report.outputs)} outputs differ beyond tolerance")
        return 1
    return 0
