"""Self-contained HTML report: every figure is an inline base64 PNG, every style inline, no scripts from
anywhere, so ``report.html`` opens offline and can be mailed as one file.

The report only *assembles*: numbers come from ``metrics.json`` and the stages' summaries, figures from
matplotlib functions in the stages; nothing here computes a metric.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#14213d;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.8;font-size:13px}
nav{padding:8px 32px;background:#e9edf3;font-size:13px} nav a{margin-right:14px;color:#14213d}
main{padding:8px 32px 40px;max-width:1300px}
section{background:#fff;border-radius:8px;padding:14px 20px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:18px;margin:4px 0 10px;color:#14213d}
p.note{font-size:13px;color:#4a5568;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border:1px solid #d9dee5;padding:4px 8px;text-align:right} th{background:#eef1f5}
td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}
figure img{max-width:600px;border:1px solid #e3e7ec}
figcaption{font-size:12px;color:#4a5568}
pre{background:#0f172a;color:#e2e8f0;padding:12px;border-radius:6px;font-size:12px;overflow:auto;max-height:480px}
"""


SELF_CHECK = (
    "(function(){var e=0;window.addEventListener('error',function(){e++;"
    "document.body.setAttribute('data-errors',String(e));});"
    "window.addEventListener('load',function(){var im=document.querySelectorAll('img.plot'),ok=0;"
    "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0){ok++;}}"
    "document.body.setAttribute('data-plots',String(im.length));"
    "document.body.setAttribute('data-plots-rendered',String(ok));});})();"
)
"""Inline script (no network): after load, records on <body> how many plots exist and how many decoded,
and counts script errors, so a headless-browser test can check the page really renders."""


@dataclass
class Section:
    """One report section: a title, an optional note, tables, figures and preformatted blocks."""

    id: str
    title: str
    note: str = ""
    tables: list[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = field(default_factory=list)
    collapsed: set[int] = field(default_factory=set)  # indices of tables shown folded (<details>)
    figures: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, PNG bytes)
    pre: list[str] = field(default_factory=list)

    def add_table(
        self, caption: str, header: Sequence[str], rows: Sequence[Sequence[Any]], *, collapsed: bool = False
    ) -> None:
        """Add a table; ``collapsed`` folds it under its caption (long detail a reader opens on demand)."""
        if collapsed:
            self.collapsed.add(len(self.tables))
        self.tables.append((caption, list(header), [list(r) for r in rows]))

    def add_figure(self, caption: str, fig: Any) -> None:
        """Add a matplotlib figure (rendered to PNG and closed) or raw PNG bytes."""
        if isinstance(fig, bytes | bytearray):
            self.figures.append((caption, bytes(fig)))
            return
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        self.figures.append((caption, buf.getvalue()))


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "–"
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return html.escape(str(v))


def render(
    title: str, subtitle: str, sections: Sequence[Section], config: Mapping[str, Any] | None = None
) -> str:
    """Render the sections into one self-contained HTML document."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header><nav>",
    ]
    all_sections = list(sections)
    if config is not None:
        cfg = Section("config", "Configuration", note="The resolved configuration that produced this report.")
        cfg.pre.append(json.dumps(config, indent=2, sort_keys=True, default=str))
        all_sections.append(cfg)
    parts += [f"<a href='#{s.id}'>{html.escape(s.title)}</a>" for s in all_sections]
    parts.append("</nav><main>")
    for s in all_sections:
        parts.append(f"<section id='{s.id}'><h2>{html.escape(s.title)}</h2>")
        if s.note:
            parts.append(f"<p class='note'>{html.escape(s.note)}</p>")
        for k, (caption, header, rows) in enumerate(s.tables):
            folded = k in s.collapsed
            if folded:
                parts.append(f"<details><summary>{html.escape(caption)} ({len(rows)} rows)</summary>")
            parts.append("<table>")
            if caption:
                parts.append(
                    f"<caption style='text-align:left;font-size:13px;padding:4px 0'>{html.escape(caption)}</caption>"
                )
            parts.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>")
            for r in rows:
                parts.append("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in r) + "</tr>")
            parts.append("</table>")
            if folded:
                parts.append("</details>")
        for caption, png in s.figures:
            b64 = base64.b64encode(png).decode()
            parts.append(
                f"<figure><img class='plot' alt='{html.escape(caption)}' src='data:image/png;base64,{b64}'>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        for block in s.pre:
            parts.append(f"<pre>{html.escape(block)}</pre>")
        parts.append("</section>")
    parts.append("</main>")
    parts.append(f"<script>{SELF_CHECK}</script>")
    parts.append("</body></html>")
    return "".join(parts)


__all__ = ["Section", "fmt", "render"]
