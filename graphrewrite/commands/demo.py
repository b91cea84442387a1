"""``graphrewrite demo``: the whole job on a built-in example, in one command."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out_dir", default="graphrewrite-demo", help="where to write frozen.pb and optimized.pb")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the model's weights")


def run(args: argparse.Namespace) -> int:
    from graphrewrite.demo import comparison_table, run_demo
    from graphrewrite.stdlib_rules.scripts import STANDARD_SCRIPT

    print("building a small Keras CNN with random weights and batch-norm statistics ...")
    result = run_demo(Path(args.out_dir), seed=args.seed)
    print(f"frozen:    {result.frozen_path}  (inputs {', '.join(result.inputs)}; outputs {', '.join(result.outputs)})")
    print(f"script:    {STANDARD_SCRIPT}")
    print(f"optimized: {result.optimized_path}\n")
    print(comparison_table(result.before, result.after))
    print()
    print(result.verified.table())
    print("outputs match" if result.verified.ok else "OUTPUTS DIFFER")
    print("\nsame thing from the command line:")
    print(f"  graphrewrite transform --in_graph={result.frozen_path} --out_graph=out.pb "
          f"--inputs={','.join(result.inputs)} --outputs={','.join(result.outputs)} "
          f"--transforms='{STANDARD_SCRIPT}' --verify")  # fmt: skip
    return 0 if result.verified.ok else 1
