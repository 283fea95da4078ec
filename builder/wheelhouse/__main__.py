"""`python3 -m builder.wheelhouse [--out build/wheelhouse-pi]`: the Pi 5 wheelhouse (see __init__)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from builder.wheelhouse import PYTHONS, WheelhouseError
from builder.wheelhouse.house import build


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(prog="python3 -m builder.wheelhouse", description=__doc__)
    ap.add_argument("--out", type=Path, default=repo / "build" / "wheelhouse-pi", help="wheelhouse folder")
    ap.add_argument(
        "--python",
        action="append",
        choices=sorted(PYTHONS),
        help="CPython version (repeatable; default: all of %(choices)s)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="parallel compile jobs for the cross-build")
    ap.add_argument("--rebuild", action="store_true", help="cross-compile llama-cpp-python even if cached")
    ap.add_argument("--refresh", action="store_true", help="resolve the other wheels again even if cached")
    ap.add_argument("--no-import-test", action="store_true", help="skip the emulated import test")
    args = ap.parse_args(argv)
    try:
        manifest = build(
            args.out.resolve(),
            repo,
            pythons=args.python or sorted(PYTHONS),
            jobs=args.jobs,
            rebuild=args.rebuild,
            refresh=args.refresh,
            test_imports=not args.no_import_test,
        )
    except WheelhouseError as e:
        print(f"wheelhouse: error: {e}", file=sys.stderr)
        return 1
    print(f"\n{'wheel':<72} {'MB':>6}  for")
    for w in manifest["wheels"]:
        print(f"{w['file']:<72} {w['bytes'] / 1e6:6.1f}  {','.join(w['for'])}")
    for py, t in manifest["import_tests"].items():
        print(
            f"import test CPython {py}: {t['python']} {t['machine']}, llama_cpp {t['llama_cpp']}"
            f"{' (cached)' if t.get('cached') else ''}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
