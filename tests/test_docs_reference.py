"""The API reference (docs/reference/) cannot silently go stale.

* Every public name of each package appears, as code (in backticks or a code block), on
  that package's page.  "Public" is the module's ``__all__`` (every package has one;
  without it: the non-underscore, non-module names defined in that module), minus
  submodules.  So a name added to an ``__all__`` fails here until its page mentions it:
  add a line to the page (signature, what it does, what it raises, Go's name).
* ``compat_golang.md`` is a pointer to the module's own docstring (that module is being
  extended), so only SPEC §3.3's fixed shape is required there: go, chan, select,
  default, nilchan, time, sync, context.
* Every ``PYRUNTIME_*`` name that appears anywhere in pyruntime/'s source appears in
  environment.md, and every key of ``pyruntime._core.proc.DEBUG_KEYS`` has its own row
  in environment.md's key table.
* The README links the index, the index links every page, and every relative link
  between the pages resolves.

No runtime is started: this only imports the packages and reads files.
"""

from __future__ import annotations

import importlib
import pathlib
import re
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
REF = ROOT / "docs" / "reference"

# page -> the module whose public names it must list
PAGES = {
    "runtime.md": "pyruntime",
    "time.md": "pyruntime.time",
    "sync.md": "pyruntime.sync",
    "context.md": "pyruntime.context",
    "net.md": "pyruntime.net",
    "monkey.md": "pyruntime.monkey",
    "aio.md": "pyruntime.aio",
    "debug.md": "pyruntime.debug",
    "trace.md": "pyruntime.trace",
    "metrics.md": "pyruntime.metrics",
    "testing.md": "pyruntime.testing",
    "panel.md": "pyruntime.panel",
}

# SPEC §3.3: the shape of pygolang's ``golang`` module that compat.golang must keep.
COMPAT_GOLANG_CONTRACT = ("go", "chan", "select", "default", "nilchan", "time", "sync", "context")

OTHER_PAGES = ("index.md", "compat_golang.md", "environment.md")


def public_names(mod: types.ModuleType) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, v in vars(mod).items()
                 if not n.startswith("_") and getattr(v, "__module__", mod.__name__) == mod.__name__]
    return [n for n in names if not isinstance(getattr(mod, n, None), types.ModuleType)]


_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]+)`")


def code_text(md: str) -> str:
    """The page's code: fenced blocks and inline code spans, joined."""
    blocks = _FENCE.findall(md)
    prose = _FENCE.sub("", md)
    return "\n".join(blocks + _INLINE.findall(prose))


def mentions(code: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", code) is not None


def read(page: str) -> str:
    return (REF / page).read_text(encoding="utf-8")


@pytest.mark.parametrize("page,modname", sorted(PAGES.items()))
def test_page_lists_every_public_name(page, modname):
    mod = importlib.import_module(modname)
    names = public_names(mod)
    assert names, f"{modname} has no public names?"
    code = code_text(read(page))
    missing = [n for n in names if not mentions(code, n)]
    assert not missing, (f"docs/reference/{page} does not mention these public names of {modname} "
                         f"(as code, e.g. `{missing[0]}`): {missing}; add a line for each "
                         "(signature, semantics, errors, Go equivalent)")


def test_compat_golang_page_has_the_contract_shape():
    mod = importlib.import_module("pyruntime.compat.golang")
    for n in COMPAT_GOLANG_CONTRACT:
        assert hasattr(mod, n), f"pyruntime.compat.golang lost the contract name {n!r} (SPEC §3.3)"
    code = code_text(read("compat_golang.md"))
    missing = [n for n in COMPAT_GOLANG_CONTRACT if not mentions(code, n)]
    assert not missing, f"docs/reference/compat_golang.md does not mention {missing}"


def _env_vars_in_source() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "pyruntime").rglob("*.py"):
        found.update(re.findall(r"PYRUNTIME_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")))
    return found


def test_environment_lists_every_variable_the_source_names():
    names = _env_vars_in_source()
    # The two the README promises are there, so the scan itself cannot silently break.
    assert {"PYRUNTIME_GOMAXPROCS", "PYRUNTIME_DEBUG"} <= names, names
    code = code_text(read("environment.md"))
    missing = sorted(n for n in names if not mentions(code, n))
    assert not missing, f"docs/reference/environment.md does not document {missing} (found in pyruntime/)"


def test_environment_has_a_row_per_debug_key():
    from pyruntime._core.proc import DEBUG_KEYS

    md = read("environment.md")
    missing = [k for k in DEBUG_KEYS if not re.search(rf"^\|\s*`{re.escape(k)}(?![A-Za-z0-9_])", md, re.M)]
    assert not missing, (f"docs/reference/environment.md's PYRUNTIME_DEBUG table has no row for {missing} "
                         "(a row starts with | `key=...`)")


def test_index_links_every_page_and_readme_links_index():
    pages = sorted(p.name for p in REF.glob("*.md"))
    for page in [*PAGES, *OTHER_PAGES]:
        assert page in pages, f"docs/reference/{page} is missing"
    index = read("index.md")
    unlinked = [p for p in pages if p != "index.md" and f"]({p})" not in index]
    assert not unlinked, f"docs/reference/index.md does not link {unlinked}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/reference/index.md)" in readme, "README.md does not link docs/reference/index.md"
    assert "](docs/reference/environment.md)" in readme, "README.md does not link docs/reference/environment.md"


def test_relative_links_between_pages_resolve():
    broken = []
    for path in REF.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if not (path.parent / target).exists():
                broken.append(f"{path.name} -> {target}")
    assert not broken, f"broken links: {broken}"
