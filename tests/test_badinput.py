"""Bad input (SPEC §3.1, §4.2): a clear exception in the calling goroutine,
and the runtime keeps running afterwards.
"""

import os
import subprocess
import sys
import textwrap

import pytest

import pyruntime as rt
from pyruntime import chan, go, select

from conftest import run

pytestmark = pytest.mark.timeout(30)


def _still_running():
    """Channel traffic between goroutines still works."""
    c = chan()
    go(lambda: c.send("alive"))
    return c.recv()


@pytest.mark.parametrize(
    "call, exc",
    [
        pytest.param(lambda: chan(-1), ValueError, id="chan(-1)"),
        pytest.param(lambda: chan("x"), TypeError, id="chan('x')"),
        pytest.param(lambda: chan(None), TypeError, id="chan(None)"),
        pytest.param(lambda: go(42), TypeError, id="go(42)"),
        pytest.param(lambda: go(None), TypeError, id="go(None)"),
        pytest.param(lambda: select(42), TypeError, id="select(42)"),
        pytest.param(lambda: select("recv"), TypeError, id="select('recv')"),
    ],
)
def test_bad_input_raises_in_goroutine_and_runtime_keeps_running(procs, call, exc):
    def main():
        try:
            call()
        except exc as e:
            caught = (type(e).__name__, bool(str(e)))
        else:
            caught = None
        return caught, _still_running()

    caught, alive = run(main, procs)
    assert caught is not None, f"no {exc.__name__} raised"
    assert caught[1], "the exception has no message"
    assert alive == "alive"


def test_bad_input_in_non_main_goroutine(procs):
    def main():
        res = chan(1)

        def child():
            try:
                chan(-5)
            except ValueError:
                res.send("ValueError")

        go(child)
        return res.recv(), _still_running()

    assert run(main, procs) == ("ValueError", "alive")


def test_select_with_foreign_callable_case(procs):
    def main():
        try:
            select(print)  # a callable, but not a channel operation
        except TypeError:
            return "TypeError", _still_running()
        return "accepted", None

    assert run(main, procs) == ("TypeError", "alive")


def test_run_with_bad_gomaxprocs_argument():
    with pytest.raises((ValueError, TypeError)):
        rt.run(lambda: None, gomaxprocs=-1)
    with pytest.raises(TypeError):
        rt.run(lambda: None, gomaxprocs="four")
    assert rt.run(lambda: "ok", gomaxprocs=1) == "ok"


def test_run_with_non_callable_main():
    with pytest.raises(TypeError):
        rt.run(42)
    assert rt.run(lambda: "ok", gomaxprocs=1) == "ok"


_ENV_SCRIPT = textwrap.dedent(
    """
    import sys
    try:
        import pyruntime as rt
        print("RESULT", rt.run(rt.gomaxprocs))
    except ValueError as e:
        print("VALUEERROR", e)
        sys.exit(0)
    """
)


def _run_with_env(value):
    env = dict(os.environ)
    env["PYRUNTIME_GOMAXPROCS"] = value
    p = subprocess.run(
        [sys.executable, "-c", _ENV_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    return p


@pytest.mark.parametrize("value", ["abc", "-3", "1.5", "4x"])
def test_invalid_env_gomaxprocs_raises_valueerror_naming_it(value):
    p = _run_with_env(value)
    assert p.returncode == 0, p.stderr
    assert "VALUEERROR" in p.stdout, (p.stdout, p.stderr)
    assert "PYRUNTIME_GOMAXPROCS" in p.stdout, p.stdout


def test_valid_env_gomaxprocs_is_the_default():
    p = _run_with_env("3")
    assert p.returncode == 0, p.stderr
    assert "RESULT 3" in p.stdout, (p.stdout, p.stderr)


def test_invalid_env_gomaxprocs_ignored_when_argument_given(monkeypatch):
    # The explicit argument wins; the runtime is still usable.
    monkeypatch.setenv("PYRUNTIME_GOMAXPROCS", "bogus")
    try:
        r = rt.run(rt.gomaxprocs, gomaxprocs=2)
    except ValueError as e:
        pytest.fail(f"explicit gomaxprocs=2 still parsed the env var: {e}")
    assert r == 2


def test_invalid_env_gomaxprocs_in_process(monkeypatch):
    # Read at run() time (not only at import): invalid -> ValueError naming it,
    # and a later run with a valid setting works.
    monkeypatch.setenv("PYRUNTIME_GOMAXPROCS", "nope")
    with pytest.raises(ValueError, match="PYRUNTIME_GOMAXPROCS"):
        rt.run(lambda: None)
    monkeypatch.setenv("PYRUNTIME_GOMAXPROCS", "2")
    assert rt.run(rt.gomaxprocs) == 2


def test_gomaxprocs_bad_values_inside_run(procs):
    def main():
        out = []
        for bad in ("x", 1.5):
            try:
                rt.gomaxprocs(bad)
                out.append("accepted")
            except (TypeError, ValueError):
                out.append("rejected")
        return out, rt.gomaxprocs(), _still_running()

    assert run(main, procs) == (["rejected", "rejected"], procs, "alive")
