"""Where an API process's time goes while it serves tiles: py-spy's samples, sorted by what.

py-spy (``record --format raw``) writes one line per distinct stack: ``frame;frame;...;frame
COUNT``, outermost first, each frame ``function (file:line)``. A sample counts for the
component of the innermost frame that belongs to one (:data:`COMPONENTS`, by file): time in
the standard library (``threading``, ``pathlib``) goes to whoever called it, and the
middleware and routing frames that wrap every request only get the time spent in them.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("session + access check (SQLAlchemy, SQLite)", (
        "services/slide_gate.py", "services/sessions.py", "services/access.py",
        "services/identity.py", "worklist/prepared.py", "worklist/sessions.py",
        "sqlalchemy/", "sqlite3/",
    )),
    ("tile lookup and file read", (
        "services/tiles.py", "services/storage.py", "services/slide_cache.py", "tiling/",
    )),
    ("audit (the opening, the sealer)", ("worklist/audit/", "services/after_sign_out.py")),
    ("Coupe middleware", ("services/middleware.py",)),
    ("Coupe, other", ("services/", "worklist/")),
    ("worker-thread hand-over (anyio)", ("anyio/",)),
    ("FastAPI and Starlette (routing, middleware, dependencies, response)", (
        "fastapi/", "starlette/",
    )),
    ("HTTP protocol (uvicorn, httptools)", ("uvicorn/", "httptools")),
    ("event loop (asyncio, uvloop)", ("asyncio/", "uvloop")),
)  # fmt: skip
"""(component, file patterns): a frame whose file contains a pattern belongs to it."""
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def breakdown(folded: str, top: int = 12) -> dict[str, Any]:
    """Shares of the samples by category and the functions most often on top of the stack."""
    categories: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        stack, count = match["stack"], int(match["count"])
        total += count
        categories[_category(stack)] += count
        leaves[_short(stack.rsplit(";", 1)[-1])] += count
    if total == 0:
        return {"samples": 0, "shares": {}, "top_functions": []}
    names = [name for name, _ in COMPONENTS] + ["other"]
    return {
        "samples": total,
        "shares": {name: round(categories[name] / total, 4) for name in names},
        "top_functions": [
            {"function": name, "share": round(count / total, 4)}
            for name, count in leaves.most_common(top)
        ],
    }


def _category(stack: str) -> str:
    """The component of the innermost frame that has one."""
    for frame in reversed(stack.split(";")):
        match = _FRAME.match(frame)
        path = match["file"] if match else frame
        for name, patterns in COMPONENTS:
            if any(pattern in path for pattern in patterns):
                return name
    return "other"


def _short(frame: str) -> str:
    """``"read (/x/site-packages/pkg/mod.py:12)"`` -> ``"read (pkg/mod.py)"``."""
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def profile_markdown(profile: dict[str, Any]) -> list[str]:
    """The profile as a markdown section."""
    if "error" in profile:
        return ["## Profile", "", f"Not profiled: {profile['error']}"]
    result = profile["pass"]
    lines = [
        "## Profile of one API process (py-spy)",
        "",
        f"Setup {profile['setup']}: py-spy (`record --rate 100 --gil --format raw`) "
        f"sampled API process {profile['pid_profiled']} during an extra pre-built pass "
        f"({result['ok']} tiles at {result['tiles_per_s']:g} tiles/s, p99 {result['p99_ms']:g} "
        f"ms); {profile['samples']} samples of the thread holding the interpreter lock (`--gil`: "
        "Python's own CPU time, not idle threads nor C code that released the lock), each "
        "counted for the component of its innermost frame that has one "
        f"(`benchmarks/_profile.py`). The stacks are in `{profile['folded']}` (flame graph "
        "tools read them).",
        "",
        "| where | share of samples |",
        "|---|---:|",
    ]
    for name, share in profile["shares"].items():
        lines.append(f"| {name} | {100 * share:.1f}% |")
    lines += ["", "Most often on top of the stack:", ""]
    for item in profile["top_functions"]:
        lines.append(f"- `{item['function']}` {100 * item['share']:.1f}%")
    return lines
