"""Assemble :class:`Section` objects into one self-contained report directory.

``write_report`` writes ``figures/<key>-<name>.png``, ``results.json`` (versioned) and ``report.html``
(jinja2 with autoescape; CSS and figures inline as data URIs, so the page has no external URL and can
be mailed or archived as one file). Every file is written atomically and ``report.html`` last, so a
reader that finds it finds a complete report.
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

import genlens
from genlens._fs import atomic_write_bytes, atomic_write_text
from genlens._json import json_safe, write_json
from genlens.errors import InputError
from genlens.views.section import Section, ranked

#: Bump when the layout of ``results.json`` changes incompatibly.
SCHEMA_VERSION = 1

_TEMPLATES = Path(__file__).with_name("templates")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def template_env() -> jinja2.Environment:
    """The report's jinja2 environment: package templates, autoescape always on."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = format_value
    return env


def format_value(value: Any) -> str:
    """Numbers to 4 significant digits for tables; everything else as text. Full precision is in JSON."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    try:  # numpy scalars
        import numpy as np

        if isinstance(value, np.generic):
            return format_value(value.item())
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def input_paths(inputs: Mapping[str, Any]) -> list[Path]:
    """Local paths named in ``inputs`` (``path``/``root``/``location`` entries at any depth)."""
    found: list[Path] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for key, val in obj.items():
                if key in ("path", "root", "location") and isinstance(val, (str, os.PathLike)):
                    text = str(val)
                    if text and "://" not in text and not text.startswith("zoo:"):
                        found.append(Path(text))
                else:
                    walk(val)
        elif isinstance(obj, (list, tuple)):
            for val in obj:
                walk(val)

    walk(inputs)
    return found


def check_out_dir(out_dir: str | os.PathLike[str], protected: Iterable[str | os.PathLike[str]]) -> Path:
    """Refuse an output directory that is, or lies inside, an input folder (we never write into inputs)."""
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise InputError(f"output directory {out} exists and is a file; choose a folder for --out")
    for item in protected:
        src = Path(item).expanduser().resolve()
        if src.is_dir() and (out == src or out.is_relative_to(src)):
            raise InputError(
                f"output directory {out} is inside the input folder {src}; genlens never writes into "
                "its inputs -- choose an --out directory elsewhere."
            )
        if src.is_file() and out == src:
            raise InputError(f"output directory {out} is an input file; choose an --out directory elsewhere.")
    return out


def _unique_keys(sections: Sequence[Section]) -> list[str]:
    seen: dict[str, int] = {}
    keys = []
    for sec in sections:
        base = _SAFE_NAME.sub("-", sec.key) or "section"
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys.append(base if count == 0 else f"{base}-{count + 1}")
    return keys


def budget_document(sections: Sequence[Section], alpha: float | None) -> dict[str, Any]:
    """How ``significant`` was decided: the report's budget and every family's share of it."""
    from genlens.budget import PROCEDURE

    families = [f.to_dict() for sec in sections for f in sec.families]
    total = alpha if alpha is not None else sum(f["alpha"] for f in families)
    return {"alpha": total, "procedure": PROCEDURE, "families": families}


def results_document(
    sections: Sequence[Section], inputs: Mapping[str, Any], title: str, keys: Sequence[str] | None = None,
    alpha: float | None = None,
) -> dict[str, Any]:
    """The ``results.json`` object: versioned, JSON-safe, one entry per section key, every view's
    findings in one list, strongest first (``findings``), and the false-alarm budget they were judged
    by (``budget``: ``alpha`` for the whole report, each family's share)."""
    keys = list(keys) if keys is not None else _unique_keys(sections)
    return json_safe(
        {
            "schema_version": SCHEMA_VERSION,
            "genlens_version": genlens.__version__,
            "title": title,
            "created": _now(),
            "inputs": dict(inputs),
            "budget": budget_document(sections, alpha),
            "findings": [f.to_dict() for f in ranked(f for sec in sections for f in sec.findings)],
            "sections": {
                key: {
                    "title": sec.title,
                    "status": sec.status,
                    "verdict": sec.verdict,
                    "reason": sec.reason,
                    "summary": sec.summary,
                    "notes": list(sec.notes),
                    "figures": [f"figures/{key}-{_SAFE_NAME.sub('-', f.name)}.png" for f in sec.figures],
                    "table": (
                        {"columns": list(sec.table.columns), "rows": [list(r) for r in sec.table.rows]}
                        if sec.table is not None
                        else None
                    ),
                    "data": sec.data,
                }
                for key, sec in zip(keys, sections)
            },
        }
    )


def write_report(
    sections: Sequence[Section],
    out_dir: str | os.PathLike[str],
    title: str = "genlens report",
    inputs: Mapping[str, Any] | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
    alpha: float | None = None,
) -> Path:
    """Write ``report.html``, ``results.json`` and ``figures/*.png`` to ``out_dir``; return the HTML path.

    ``inputs`` is provenance shown in the header and stored in JSON (e.g. ``{"real": src.describe()}``).
    Paths found in it, and any in ``protect``, must not contain ``out_dir``.
    """
    inputs = dict(inputs or {})
    out = check_out_dir(out_dir, [*input_paths(inputs), *protect])
    out.mkdir(parents=True, exist_ok=True)
    keys = _unique_keys(sections)

    views = []
    for key, sec in zip(keys, sections):
        figures = []
        for fig in sec.figures:
            rel = f"figures/{key}-{_SAFE_NAME.sub('-', fig.name)}.png"
            atomic_write_bytes(out / rel, fig.png)
            figures.append(
                {"file": rel, "caption": fig.caption, "uri": "data:image/png;base64," + base64.b64encode(fig.png).decode()}
            )
        views.append({"key": key, "section": sec, "figures": figures, "raw": _pretty_json(sec.data)})

    doc = results_document(sections, inputs, title, keys, alpha)
    write_json(out / "results.json", doc)

    counts = {status: sum(1 for s in sections if s.status == status) for status in ("ok", "empty", "failed", "skipped")}
    html = template_env().get_template("report.html").render(
        title=title,
        created=doc["created"],
        version=genlens.__version__,
        schema_version=SCHEMA_VERSION,
        inputs=_input_rows(doc["inputs"]),
        views=views,
        counts=counts,
        findings=[f for f in doc["findings"] if f["significant"]],
        budget=doc["budget"],
    )
    return atomic_write_text(out / "report.html", html)


def _input_rows(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Provenance for the header: one card per input with its key/value pairs flattened one level."""
    rows = []
    for name, desc in inputs.items():
        if isinstance(desc, Mapping):
            items = [(k, v if not isinstance(v, (Mapping, list)) else _compact(v)) for k, v in desc.items()]
        else:
            items = [("value", desc)]
        rows.append({"name": name, "items": items})
    return rows


def _compact(value: Any) -> str:
    import json

    text = json.dumps(json_safe(value), separators=(", ", ": "))
    return text if len(text) <= 300 else text[:297] + "..."


def _pretty_json(data: Any) -> str:
    import json

    return json.dumps(json_safe(data), indent=2)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
