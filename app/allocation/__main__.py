"""Command line: python -m app.allocation INSTANCE.json [--objective ...] [--seed N] [-o RESULT.json]."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from app.allocation.algorithm import allocate
from app.allocation.errors import InstanceError
from app.allocation.explain import explain
from app.allocation.model import Objective
from app.allocation.serialization import instance_from_dict, result_to_dict
from app.allocation.stats import figures


def main(argv: Sequence[str] | None = None) -> int:
    """Allocate an instance file and write the result JSON; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m app.allocation", description="Allocate ranked workshop choices.")
    parser.add_argument("instance", help="instance JSON file ('-' for standard input)")
    parser.add_argument("--objective", choices=[o.value for o in Objective], default=Objective.FAIR.value)
    parser.add_argument("--seed", type=int, default=0, help="lottery seed for tie-breaking (default 0)")
    parser.add_argument("-o", "--output", help="result JSON file (default standard output)")
    parser.add_argument("--explain", action="store_true", help="add a reason per participant and slot")
    args = parser.parse_args(argv)
    try:
        if args.instance == "-":
            data = json.load(sys.stdin)
        else:
            with open(args.instance, encoding="utf-8") as f:
                data = json.load(f)
    except OSError as error:
        print(f"error: cannot read {args.instance}: {error.strerror}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as error:
        print(f"error: {args.instance} is not valid JSON: {error}", file=sys.stderr)
        return 2
    try:
        instance = instance_from_dict(data)
    except InstanceError as error:
        for problem in error.problems:
            print(f"error: {problem.where}: {problem.message} [{problem.code}]", file=sys.stderr)
        return 2
    result = allocate(instance, Objective(args.objective), seed=args.seed)
    output = result_to_dict(result)
    output["stats"] = figures(instance, result).as_dict()
    if args.explain:
        output["explanations"] = [e.as_dict() for e in explain(instance, result)]
    text = json.dumps(output, ensure_ascii=False, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        summary = output["stats"]["overall"]
        print(
            f"{len(result.assignments)} places to {summary['participants'] - summary['left_with_nothing']} "
            f"of {summary['participants']} participants; written to {args.output}",
            file=sys.stderr,
        )
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
