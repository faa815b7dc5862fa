"""``pyruntime report TRACE``: a text summary of a trace and two heatmaps.

The summary answers what ``go tool trace``'s goroutine analysis and its scheduler- and
syscall-latency profiles answer: where each start function's goroutines spent their time
(running, runnable, waiting by reason, in syscalls), the runnable→running latency
distribution (split by what made the G runnable), syscall durations, work stealing,
preemptions, stop-the-world pauses and GC.

Heatmaps (matplotlib, the optional ``report`` extra):
    ``<trace>.schedlat.png``          scheduling latency over time (log2 latency buckets,
                                      colour = number of intervals, p50/p99 lines)
    ``<trace>.schedlat_syscall.png``  each syscall's duration against the scheduling
                                      latency of the goroutine when it came back

Input is the file ``pyruntime.trace`` writes: one event per line, ``otherData`` on the
last line.  Anything else (a truncated file, another program's JSON) is rejected with a
:class:`ReportError` that says what is wrong.  :func:`check_complete` is the cheap part of
that check (head and closing line only) that ``pyruntime trace view`` runs before it
serves a file, so that it refuses a truncated trace with the same message instead of
handing the UI a file it shows half of, or nothing, without saying why.
"""

from __future__ import annotations

import bisect
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReportError", "TraceData", "load", "check_complete", "summary", "heatmaps", "percentile", "fmt_ns"]

_HEAD = b'{"traceEvents":['


class ReportError(Exception):
    """The trace cannot be reported on (missing, truncated, not a pyruntime trace)."""


@dataclass
class TraceData:
    path: str
    other: dict
    # one entry per G run: (ts_ns, wait_ns or None, from)
    lat: list = field(default_factory=list)
    runs_by_p: dict = field(default_factory=dict)      # p -> [runs, busy_ns]
    syscalls: list = field(default_factory=list)       # dur_ns of each syscall
    after_syscall: list = field(default_factory=list)  # (syscall prev_ns, wait_ns)
    steals: list = field(default_factory=list)         # (p, victim, n)
    handoffs: dict = field(default_factory=dict)       # idle P -> never-run Gs go() placed on it
    preempts: dict = field(default_factory=dict)       # p -> count
    stw: list = field(default_factory=list)            # (dur_ns, reason)
    gc: list = field(default_factory=list)             # (dur_ns, gen)
    blocked: list = field(default_factory=list)        # (g, p, m)
    logs: int = 0
    events: int = 0


def _ns(us: Any) -> int:
    return int(round(float(us) * 1000))


def _use(ev: dict, d: TraceData) -> None:
    ph = ev.get("ph")
    cat = ev.get("cat")
    if ph == "X":
        a = ev.get("args") or {}
        if cat == "g" and ev.get("pid") == 1:
            p = int(ev.get("tid", 1000)) - 1000
            r = d.runs_by_p.setdefault(p, [0, 0])
            r[0] += 1
            r[1] += _ns(ev.get("dur", 0))
            w = a.get("wait_ns")
            frm = a.get("from", "")
            if w is not None:
                d.lat.append((_ns(ev.get("ts", 0)), int(w), frm))
                if frm == "syscall" and a.get("prev_ns") is not None:
                    d.after_syscall.append((int(a["prev_ns"]), int(w)))
        elif cat == "syscall":
            d.syscalls.append(_ns(ev.get("dur", 0)))
        elif cat == "stw":
            d.stw.append((_ns(ev.get("dur", 0)), str(a.get("reason", "?"))))
        elif cat == "gc":
            d.gc.append((_ns(ev.get("dur", 0)), a.get("gen")))
    elif ph == "i" and ev.get("pid") == 1:
        name = ev.get("name")
        a = ev.get("args") or {}
        if name == "Steal":
            d.steals.append((a.get("p"), a.get("victim"), int(a.get("n") or 1)))
        elif name == "Handoff":
            d.handoffs[a.get("p")] = d.handoffs.get(a.get("p"), 0) + 1
        elif name == "Preempt":
            d.preempts[a.get("p")] = d.preempts.get(a.get("p"), 0) + 1
        elif name == "BlockedM":
            d.blocked.append((a.get("g"), a.get("p"), a.get("m")))
        elif cat == "user":
            d.logs += 1


# Lines the report never needs: counters, flows, metadata, the M-view copies, and the Go
# tracer instants (GoStart, GoBlock, ...: the run slices already hold what they say).
_SKIP = (b'{"ph":"C"', b'{"ph":"s"', b'{"ph":"f"', b'{"ph":"M"', b'{"ph":"i","s":"t","cat":"sched","name":"Go')


def load(path: str) -> TraceData:
    """Read a trace written by ``pyruntime.trace``; raise :class:`ReportError` otherwise."""
    with _open(path) as f:
        first = f.readline()
        if first.rstrip(b"\r\n") != _HEAD:
            return _load_json(path, first + f.read())
        d = TraceData(path, {})
        n = 1
        for line in f:
            n += 1
            if line.startswith(b"],"):
                try:
                    tail = json.loads(b"{" + line[2:])
                except ValueError as e:
                    raise ReportError(f"{path}: line {n}: the closing metadata is damaged ({e})") from None
                d.other = tail.get("otherData") or {}
                break
            if line.startswith(_SKIP) or (b'"pid":3,' in line and b'"cat":"syscall"' not in line):
                d.events += 1
                continue
            s = line.rstrip(b",\r\n")
            if not s:
                continue
            try:
                ev = json.loads(s)
            except ValueError:
                raise ReportError(f"{path}: line {n} is not a complete trace event: the file is truncated or "
                                  "damaged (was the program killed while the trace was being written?)") from None
            d.events += 1
            if isinstance(ev, dict):
                _use(ev, d)
        else:
            raise ReportError(f"{path}: truncated: the file ends after {n} lines without its closing metadata "
                              + _recovery_hint(path))
    _check_ours(path, d.other)
    return d


def _recovery_hint(path: str) -> str:
    spool = path + ".spool"
    if os.path.isfile(spool):
        return (f"(was the program killed while the trace was being written? {spool} is next to it: "
                f"`pyruntime trace convert {spool} {path}` recovers what was recorded)")
    return ("(was the program killed while the trace was being written? a leftover "
            "OUT.spool can be recovered with `pyruntime trace convert`)")


def _open(path: str) -> Any:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportError(f"{path}: is a directory, not a trace file") from None
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None


def _last_line(f: Any, size: int) -> bytes:
    """The file's last line (without its newline), read backwards in chunks."""
    end = size
    buf = b""
    while end > 0:
        start = max(0, end - 65536)
        f.seek(start)
        buf = f.read(end - start) + buf
        end = start
        body = buf.rstrip(b"\r\n")
        i = body.rfind(b"\n")
        if i >= 0:
            return body[i + 1:]
    return buf.rstrip(b"\r\n")


def check_complete(path: str) -> None:
    """Raise :class:`ReportError` if ``path`` is missing, empty, or a pyruntime trace
    that is truncated or whose closing metadata is damaged (the messages ``load`` gives).
    Reads the first and the last line only.  A file that does not start like a
    pyruntime trace is not judged (another tracer's JSON, a Perfetto protobuf: the UI
    opens those)."""
    with _open(path) as f:
        first = f.readline()
        if not first.strip():
            if not (first + f.read(4096)).strip():
                raise ReportError(f"{path}: the file is empty (a trace that was started but never stopped?)")
            return
        if first.rstrip(b"\r\n") != _HEAD:
            return
        size = os.fstat(f.fileno()).st_size
        last = _last_line(f, size)
    if not last.startswith(b"],"):
        raise ReportError(f"{path}: truncated: the file ends without its closing metadata " + _recovery_hint(path))
    try:
        tail = json.loads(b"{" + last[2:])
    except ValueError as e:
        raise ReportError(f"{path}: the closing metadata is damaged ({e}) " + _recovery_hint(path)) from None
    _check_ours(path, tail.get("otherData") if isinstance(tail, dict) else None)


def _load_json(path: str, data: bytes) -> TraceData:
    if not data.strip():
        raise ReportError(f"{path}: the file is empty (a trace that was started but never stopped?)")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ReportError(f"{path}: not a pyruntime trace: not JSON ({e})") from None
    if isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list):
        other = doc.get("otherData") or {}
        _check_ours(path, other)
        d = TraceData(path, other)
        for ev in doc["traceEvents"]:
            if isinstance(ev, dict):
                d.events += 1
                _use(ev, d)
        return d
    what = "a JSON array (another tracer's event list?)" if isinstance(doc, list) else f"JSON {type(doc).__name__}"
    raise ReportError(f"{path}: not a pyruntime trace: {what}, not a Chrome trace written by pyruntime.trace")


def _check_ours(path: str, other: Any) -> None:
    if not isinstance(other, dict) or other.get("producer") != "pyruntime":
        raise ReportError(f"{path}: not a pyruntime trace (a Chrome trace without pyruntime's otherData; "
                          "write one with pyruntime.trace.start() or `pyruntime run --trace`)")


# --------------------------------------------------------------------------- numbers

def percentile(sorted_xs: list, q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a sorted, non-empty list."""
    if not sorted_xs:
        return math.nan
    k = max(0, min(len(sorted_xs) - 1, math.ceil(q / 100 * len(sorted_xs)) - 1))
    return sorted_xs[k]


def fmt_ns(ns: float) -> str:
    if ns != ns:
        return "-"
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.3f} s"


def _pcts(xs: list, qs: tuple = (50, 90, 99, 99.9)) -> str:
    s = sorted(xs)
    parts = [f"p{q:g} {fmt_ns(percentile(s, q))}" for q in qs]
    parts.append(f"max {fmt_ns(s[-1])}")
    parts.append(f"mean {fmt_ns(sum(s) / len(s))}")
    return "  ".join(parts)


def _group(frm: str) -> str:
    if frm == "create":
        return "after create"
    if frm in ("yield", "preempted"):
        return "after yield/preemption"
    if frm == "syscall":
        return "after syscall"
    return "after a wake-up"


def summary(d: TraceData, top: int = 15) -> str:
    o = d.other
    out: list[str] = []
    start, end = o.get("start_ns") or 0, o.get("end_ns") or 0
    window = max(0, end - start)
    mode = o.get("mode", "?")
    if mode == "ring":
        mode = f"flight recorder, last {o.get('max_events')} events"
        if o.get("window_complete") is False:
            mode += ", older ones dropped"
    st = o.get("stats", {})
    out.append(f"pyruntime trace report: {d.path}")
    procs = o.get("procs") or sorted(d.runs_by_p)
    out.append(f"  window {fmt_ns(window)} ({mode}); GOMAXPROCS {o.get('gomaxprocs', '?')}; Ps seen {len(procs)}; "
               f"{st.get('records', '?')} scheduler events -> {d.events} trace events")
    out.append("")

    funcs = o.get("functions") or {}
    out.append("goroutines by start function: time in each state, summed over its goroutines")
    if funcs:
        rows = sorted(funcs.items(), key=lambda kv: -(kv[1].get("running_ns", 0) + kv[1].get("runnable_ns", 0)
                                                       + kv[1].get("syscall_ns", 0)
                                                       + sum(kv[1].get("waiting_ns", {}).values())))
        w = min(44, max(8, *(len(k) for k, _ in rows[:top])))
        out.append(f"  {'function':<{w}} {'Gs':>6} {'runs':>8} {'running':>10} {'runnable':>10} {'syscall':>10} "
                   f"{'waiting':>10}  top waits")
        for name, s in rows[:top]:
            waits = s.get("waiting_ns", {})
            wt = sum(waits.values())
            tw = ", ".join(f"{r} {fmt_ns(v)}" for r, v in list(waits.items())[:2])
            nm = name if len(name) <= w else "…" + name[-(w - 1):]
            out.append(f"  {nm:<{w}} {s.get('goroutines', 0):>6} {s.get('runs', 0):>8} "
                       f"{fmt_ns(s.get('running_ns', 0)):>10} {fmt_ns(s.get('runnable_ns', 0)):>10} "
                       f"{fmt_ns(s.get('syscall_ns', 0)):>10} {fmt_ns(wt):>10}  {tw}")
        if len(rows) > top:
            out.append(f"  ... and {len(rows) - top} more functions")
    else:
        out.append("  (no goroutines)")
    out.append("")

    lat = [w for _, w, _ in d.lat]
    out.append(f"scheduling latency (runnable -> running): {len(lat)} intervals")
    if lat:
        out.append("  " + _pcts(lat))
        groups: dict[str, list] = {}
        for _, w, frm in d.lat:
            groups.setdefault(_group(frm), []).append(w)
        for g in ("after a wake-up", "after create", "after yield/preemption", "after syscall"):
            xs = groups.get(g)
            if xs:
                s = sorted(xs)
                out.append(f"  {g:<24} {len(xs):>8}  p50 {fmt_ns(percentile(s, 50))}  p99 {fmt_ns(percentile(s, 99))}"
                           f"  max {fmt_ns(s[-1])}")
    out.append("")

    out.append(f"syscalls: {len(d.syscalls)} (duration as the goroutine saw it, GoSyscallBegin -> GoSyscallEnd)")
    if d.syscalls:
        out.append("  " + _pcts(d.syscalls))
        if d.after_syscall:
            s = sorted(w for _, w in d.after_syscall)
            out.append(f"  scheduling latency after the syscall returned: p50 {fmt_ns(percentile(s, 50))}  "
                       f"p99 {fmt_ns(percentile(s, 99))}  max {fmt_ns(s[-1])}")
    out.append("")

    moved = sum(n for _, _, n in d.steals)
    by: dict[Any, int] = {}
    for p, _, n in d.steals:
        by[p] = by.get(p, 0) + n
    detail = ", ".join(f"P{p} took {n}" for p, n in sorted(by.items(), key=lambda kv: str(kv[0])))
    out.append(f"work stealing: {len(d.steals)} steals moved {moved} goroutines" + (f" ({detail})" if detail else ""))
    if d.handoffs:
        detail = ", ".join(f"P{p} {n}" for p, n in sorted(d.handoffs.items(), key=lambda kv: str(kv[0])))
        out.append(f"placed on idle Ps by go(): {sum(d.handoffs.values())} goroutines ({detail})")
    npre = sum(d.preempts.values())
    detail = ", ".join(f"P{p} {n}" for p, n in sorted(d.preempts.items(), key=lambda kv: str(kv[0])))
    out.append(f"preemptions: {npre}" + (f" ({detail})" if detail else ""))
    if d.stw:
        tot = sum(x for x, _ in d.stw)
        reasons: dict[str, int] = {}
        for _, r in d.stw:
            reasons[r] = reasons.get(r, 0) + 1
        rs = ", ".join(f"{r} {n}" for r, n in reasons.items())
        out.append(f"stop-the-world: {len(d.stw)} pauses, total {fmt_ns(tot)}, max {fmt_ns(max(x for x, _ in d.stw))} "
                   f"({rs})")
    else:
        out.append("stop-the-world: 0 pauses")
    if d.gc:
        tot = sum(x for x, _ in d.gc)
        gens: dict[Any, int] = {}
        for _, g in d.gc:
            gens[g] = gens.get(g, 0) + 1
        gs = ", ".join(f"gen{g} {n}" for g, n in sorted(gens.items(), key=lambda kv: str(kv[0])))
        out.append(f"GC (Python's collector, stops every M): {len(d.gc)} collections, total {fmt_ns(tot)}, "
                   f"max {fmt_ns(max(x for x, _ in d.gc))} ({gs})")
    else:
        out.append("GC: 0 collections")
    out.append(f"blocked Ms reported by sysmon: {len(d.blocked)}")
    ps = sorted(set(d.runs_by_p) | {p for p in procs if isinstance(p, int)})
    if ps:
        parts = []
        for p in ps:
            n, busy = d.runs_by_p.get(p, (0, 0))
            pct = f"{100 * busy / window:.1f}%" if window else "?"
            parts.append(f"P{p} busy {pct}, {n} runs" + (f", mean run {fmt_ns(busy / n)}" if n else ""))
        out.append("Ps: " + "; ".join(parts))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- heatmaps

def _log2_edges(lo_ns: float, hi_ns: float) -> list[float]:
    lo = max(1.0, lo_ns)
    a = math.floor(math.log2(lo))
    b = math.ceil(math.log2(max(hi_ns, lo * 2)))
    if b <= a:
        b = a + 1
    return [2.0 ** k for k in range(a, b + 1)]


def heatmaps(d: TraceData, out_dir: str | None = None, stem: str | None = None) -> list[str]:
    """Write the two heatmaps as PNG; return their paths.  Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter

    base = stem or os.path.splitext(os.path.basename(d.path))[0]
    out_dir = out_dir or os.path.dirname(os.path.abspath(d.path))
    os.makedirs(out_dir, exist_ok=True)
    paths = []

    # 1. scheduling latency over time
    p1 = os.path.join(out_dir, f"{base}.schedlat.png")
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    pts = [(ts, max(w, 1)) for ts, w, _ in d.lat]
    if pts:
        t0 = d.other.get("start_ns") or min(t for t, _ in pts)
        t1 = max(d.other.get("end_ns") or 0, max(t for t, _ in pts)) + 1
        nx = 100
        xedges = [(t0 + (t1 - t0) * i / nx - t0) / 1e9 for i in range(nx + 1)]
        yedges = _log2_edges(min(w for _, w in pts), max(w for _, w in pts) + 1)
        ny = len(yedges) - 1
        grid = [[0] * nx for _ in range(ny)]
        cols: list[list[int]] = [[] for _ in range(nx)]
        for ts, w in pts:
            xi = min(nx - 1, int((ts - t0) * nx / (t1 - t0)))
            yi = min(ny - 1, max(0, bisect.bisect_right(yedges, w) - 1))
            grid[yi][xi] += 1
            cols[xi].append(w)
        masked = [[c if c else math.nan for c in row] for row in grid]
        mx = max(max(r) for r in grid)
        mesh = ax.pcolormesh(xedges, yedges, masked, cmap="viridis",
                             norm=LogNorm(vmin=1, vmax=max(mx, 2)), shading="flat")
        fig.colorbar(mesh, ax=ax, label="intervals")
        xs = [(xedges[i] + xedges[i + 1]) / 2 for i in range(nx) if cols[i]]
        for q, style in ((50, "k--"), (99, "r-")):
            ys = [percentile(sorted(c), q) for c in cols if c]
            ax.plot(xs, ys, style, lw=1, label=f"p{q}")
        ax.legend(loc="upper right", fontsize=8)
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_ns(v)))
    else:
        ax.text(0.5, 0.5, "no runnable→running intervals in this trace", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("time since trace start (s)")
    ax.set_ylabel("scheduling latency (log2 buckets)")
    ax.set_title(f"scheduling latency over time: {len(pts)} runnable→running intervals")
    fig.tight_layout()
    fig.savefig(p1)
    plt.close(fig)
    paths.append(p1)

    # 2. syscall duration × scheduling latency after it
    p2 = os.path.join(out_dir, f"{base}.schedlat_syscall.png")
    fig, ax = plt.subplots(figsize=(7, 5.6), dpi=110)
    pairs = [(max(a, 1), max(b, 1)) for a, b in d.after_syscall]
    if pairs:
        xedges = _log2_edges(min(a for a, _ in pairs), max(a for a, _ in pairs) + 1)
        yedges = _log2_edges(min(b for _, b in pairs), max(b for _, b in pairs) + 1)
        nx, ny = len(xedges) - 1, len(yedges) - 1
        grid = [[0] * nx for _ in range(ny)]
        for a, b in pairs:
            xi = min(nx - 1, max(0, bisect.bisect_right(xedges, a) - 1))
            yi = min(ny - 1, max(0, bisect.bisect_right(yedges, b) - 1))
            grid[yi][xi] += 1
        masked = [[c if c else math.nan for c in row] for row in grid]
        mx = max(max(r) for r in grid)
        mesh = ax.pcolormesh(xedges, yedges, masked, cmap="magma",
                             norm=LogNorm(vmin=1, vmax=max(mx, 2)), shading="flat")
        fig.colorbar(mesh, ax=ax, label="syscalls")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_ns(v)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_ns(v)))
        ax.tick_params(axis="x", labelrotation=30)
    else:
        ax.text(0.5, 0.5, "no syscalls in this trace\n(pyruntime.syscall(fn, ...) calls appear here)",
                ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("syscall duration (log2 buckets)")
    ax.set_ylabel("scheduling latency after it returned (log2)")
    ax.set_title(f"syscall duration × scheduling latency: {len(pairs)} syscalls")
    fig.tight_layout()
    fig.savefig(p2)
    plt.close(fig)
    paths.append(p2)
    return paths
