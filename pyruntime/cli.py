"""The ``pyruntime`` command.

    pyruntime run FILE [ARGS...] [--gomaxprocs N] [--trace OUT]
    pyruntime bench [benchmark flags...]

``run`` executes FILE as ``__main__`` inside the main goroutine.  A panic or a deadlock
exits with status 2, as a Go program does.
"""

from __future__ import annotations

import argparse
import os
import runpy
import subprocess
import sys

__all__ = ["main"]


def _run(ns: argparse.Namespace) -> int:
    import pyruntime as rt

    if not os.path.isfile(ns.file):
        print(f"pyruntime run: no such file: {ns.file}", file=sys.stderr)
        return 2
    sys.argv = [ns.file, *ns.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(ns.file)))
    if ns.trace:
        rt.trace.start(ns.trace)
    try:
        rt.run(runpy.run_path, ns.file, run_name="__main__", gomaxprocs=ns.gomaxprocs)
    except rt.Deadlock:
        return 2
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        print("signal: interrupt", file=sys.stderr)
        return 130
    except BaseException:
        return 2
    finally:
        if ns.trace and rt.trace.is_tracing():
            path = rt.trace.stop()
            print(f"trace written to {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pyruntime", description="Go's runtime for Python")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a program with its __main__ as the main goroutine")
    r.add_argument("file")
    r.add_argument("--gomaxprocs", type=int, default=None)
    r.add_argument("--trace", default=None, help="write an execution trace (Chrome JSON) here")
    r.add_argument("args", nargs=argparse.REMAINDER)
    b = sub.add_parser("bench", help="run the benchmarks against the peers (from a source checkout)")
    b.add_argument("rest", nargs=argparse.REMAINDER)
    ns = ap.parse_args(argv)
    if ns.cmd == "run":
        return _run(ns)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isdir(os.path.join(root, "benchmarks")):
        print("pyruntime bench: the benchmarks live in the source checkout (benchmarks/)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, "-m", "benchmarks", *ns.rest], cwd=root)


if __name__ == "__main__":
    sys.exit(main())
