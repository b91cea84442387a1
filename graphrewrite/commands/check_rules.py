"""``graphrewrite check-rules FILE.rules``: property-test every rule in a rule file.

For each rule, graphs are generated from its pattern (so it really fires), the rule is applied,
both graphs run in TensorFlow on the same inputs, and the outputs compared. The table reports
per rule the instances tried, how many the rule fired on, and the largest error; a failing rule
prints its shrunk counterexample. Exit status 0 when every rule passed, 1 when one failed or
never fired on the generated graphs (a check that exercised nothing proves nothing), 2 on bad
usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from graphrewrite.engine.errors import NameNotFoundError, UsageError, suggest


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="rule files (.rules) to check")
    parser.add_argument("--rule", action="append", default=[], metavar="NAME", help="check only this rule (repeatable)")
    parser.add_argument("--examples", type=int, default=50, help="generated graphs per rule (default 50)")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    parser.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance (default 1e-4)")
    parser.add_argument(
        "--seed", type=int, help="another fixed set of examples (default: the same examples every run)"
    )
    parser.epilog = "Exit status: 0 all rules passed, 1 a rule failed or never fired, 2 bad usage."


def run(args: argparse.Namespace) -> int:
    from graphrewrite.rules.loader import load_rules_file

    if args.examples < 1:
        raise UsageError(f"check-rules: --examples={args.examples} must be at least 1")
    transforms = [t for path in args.files for t in load_rules_file(path, validate=True)]
    selected = select(transforms, args.rule)
    if not selected:
        print("no rules to check")
        return 1
    results = []
    print(_row(("rule", "tried", "fired", "max abs err", "result")))
    for transform in selected:
        found = check_one(transform, args)
        results.append(found)
        error = f"{found.max_abs:.3g}" if found.fired else "-"
        print(_row((found.rule, str(found.tried), str(found.fired), error, found.status)), flush=True)
    for found in results:
        if found.counterexample:
            print(f"\n{found.rule}: {found.status}\n{found.counterexample}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"\n{len(failed)} of {len(results)} rules did not pass: {', '.join(r.rule for r in failed)}", file=sys.stderr)
        return 1
    return 0


def select(transforms: Sequence[Any], names: Sequence[str]) -> list[Any]:
    """The transforms named by ``--rule`` (all when none), with did-you-mean for typos."""
    if not names:
        return list(transforms)
    by_name = {t.name: t for t in transforms}
    for name in names:
        if name not in by_name:
            hint = suggest(name, by_name)
            raise NameNotFoundError(f"no rule named '{name}' in the rule files" + (f"; {hint}" if hint else ""))
    return [by_name[name] for name in dict.fromkeys(names)]


def check_one(transform: Any, args: argparse.Namespace) -> Any:
    """Property-check one transform with the arguments its ``tested(...)`` names; a rule that
    declares ``lossy(...)`` may drift by that much more, judged against each output's scale."""
    from graphrewrite.testing import check_rule, graphs

    cases = graphs() if not hasattr(transform, "pattern") and not hasattr(transform, "rules") else None
    facts = transform.facts
    tested = dict(facts.checked.args)
    rtol, atol = facts.tolerance(tested) or (0.0, 0.0)
    return check_rule(
        transform, examples=args.examples, rtol=args.rtol + rtol, atol=args.atol + atol, cases=cases,
        args=tested, seed=args.seed, scale="output" if facts.lossy is not None else "element",
    )  # fmt: skip


def _row(cells: Sequence[str]) -> str:
    widths = (28, 6, 6, 12, 0)
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) if w else c for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
