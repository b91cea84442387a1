"""``graphrewrite rules``: every transform with its parameters, defaults and one-line doc.

Naming transforms (``graphrewrite rules cast_weights``) also prints what each parameter does.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", action="append", default=[], metavar="FILE", help="also list rules from FILE")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.add_argument("names", nargs="*", help="only these transforms")


def describe(transform: Any) -> dict[str, Any]:
    from graphrewrite.rules.bind import IGNORE_ERRORS_PARAM
    from graphrewrite.rules.rule import Group, Pass, Schedule

    kinds = ((Pass, "pass"), (Group, "group"), (Schedule, "schedule"))
    kind = next((name for cls, name in kinds if isinstance(transform, cls)), "rule")
    params = (*transform.params, IGNORE_ERRORS_PARAM)
    entry: dict[str, Any] = {
        "name": transform.name,
        "kind": kind,
        "doc": transform.doc,
        "params": [p.describe() for p in params],
        "param_docs": [p.doc for p in params],
    }
    if isinstance(transform, Group):
        entry["rules"] = [{"name": r.name, "doc": r.doc} for r in transform.rules]
    return entry


def run(args: argparse.Namespace) -> int:
    from graphrewrite.rules.loader import load_rules_file
    from graphrewrite.stdlib_rules import standard_rules

    catalog = standard_rules()
    for path in args.rules:
        catalog = catalog.plus(load_rules_file(path))
    entries = [describe(t) for t in catalog if not args.names or t.name in args.names]
    for name in args.names:
        catalog.lookup(name)  # an unknown name is an error with a did-you-mean
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for entry in entries:
        print(f"{entry['name']}  [{entry['kind']}]")
        print(f"    {entry['doc']}")
        if args.names:  # asked about by name: each parameter on its own line, with its doc
            print("    params:")
            for text, doc in zip(entry["params"], entry["param_docs"], strict=True):
                print(f"      {text}" + (f"\n          {doc}" if doc else ""))
        else:
            print(f"    params: {', '.join(entry['params'])}")
        for rule in entry.get("rules", ()):
            print(f"      - {rule['name']}: {rule['doc']}")
    return 0
