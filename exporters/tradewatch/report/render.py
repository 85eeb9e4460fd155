"""Turn sections into a self-contained HTML page (PNG charts inline) and a JSON document with the
same numbers, and write both (plus the PNG files) to a directory."""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tradewatch import __version__
from tradewatch.report import charts
from tradewatch.report.period import Period
from tradewatch.report.query import Prometheus
from tradewatch.report.sections import Builder, Options, Section

CID_DOMAIN = "tradewatch.report"


@dataclass
class Report:
    name: str
    period: Period
    sections: list[Section]
    queries: dict[str, str]
    prometheus_url: str
    generated_at: float = field(default_factory=time.time)
    images: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG

    @property
    def subject(self) -> str:
        # Kept under 78 characters with its header name, so it is never folded.
        p = self.period
        s, e = p.local(p.start), p.local(p.end)
        return f"TradeWatch {p.kind} report, {s:%d %b %H:%M} to {e:%d %b %Y %H:%M} {p.zone_abbrev()}"

    def document(self) -> dict[str, Any]:
        p = self.period
        return {
            "report": self.name,
            "kind": p.kind,
            "generator": f"tradewatch {__version__}",
            "generated_at": _iso(self.generated_at, p),
            "prometheus_url": self.prometheus_url,
            "period": {
                "start": p.start,
                "end": p.end,
                "start_local": _iso(p.start, p),
                "end_local": _iso(p.end, p),
                "timezone": p.zone,
                "chart_step_seconds": p.chart_step,
                "resolution_seconds": p.resolution,
            },
            "sections": {
                s.id: {
                    "title": s.title,
                    "data": s.data,
                    "notes": s.notes,
                    # What the reader sees, as shown (formatted headline figures and tables).
                    "figures": [[k, v] for k, v in s.figures],
                    "tables": [{"title": t.title, "headers": t.headers, "rows": t.rows} for t in s.tables],
                    "error": s.error,
                    "charts": [f"{c.name}.png" for c in s.charts],
                }
                for s in self.sections
            },
            "queries": self.queries,
        }

    def json_bytes(self) -> bytes:
        return orjson.dumps(self.document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    def html(self, *, cid: bool = False) -> str:
        """The page; ``cid=True`` references images as ``cid:<file name>`` for a multipart/related mail."""
        return _page(
            self,
            lambda name: (
                f"cid:{name}@{CID_DOMAIN}"
                if cid
                else "data:image/png;base64," + base64.b64encode(self.images[name]).decode("ascii")
            ),
        )

    def write(self, directory: str | Path) -> dict[str, Path]:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"html": out / "report.html", "json": out / "report.json"}
        paths["html"].write_text(self.html(), encoding="utf-8")
        paths["json"].write_bytes(self.json_bytes())
        for name, png in self.images.items():
            (out / name).write_bytes(png)
            paths[name] = out / name
        return paths


def build(prom: Prometheus, period: Period, options: Options, *, name: str) -> Report:
    """Query Prometheus, compute every section and draw the charts."""
    builder = Builder(prom, period, options)
    sections = builder.build()
    report = Report(name, period, sections, builder.queries, prom.url)
    for section in sections:
        for chart in section.charts:
            report.images[f"{chart.name}.png"] = charts.render(chart, period)
    return report


def _iso(ts: float, p: Period) -> str:
    return datetime.fromtimestamp(ts, p.tz).isoformat() if p else datetime.fromtimestamp(ts, UTC).isoformat()


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;max-width:960px;margin:0 auto;
padding:16px;background:#fff}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #1f5fa8;padding-bottom:3px}
h3{font-size:14px;margin:14px 0 4px;color:#444}.period{color:#555;margin:0 0 12px}
.figs{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.fig{border:1px solid #ddd;border-radius:4px;padding:6px 10px;min-width:120px}
.fig .v{font-size:17px;font-weight:600}.fig .k{font-size:11px;color:#666}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f6f8}
ul.notes{margin:6px 0;padding-left:20px}ul.notes li{margin:2px 0}
.error{color:#b00;font-weight:600}img{max-width:100%;height:auto;display:block;margin:8px 0}
.toc{font-size:13px}.foot{color:#777;font-size:11px;margin-top:30px}
"""


def _page(report: Report, src) -> str:
    e = html.escape
    p = report.period
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.subject)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>TradeWatch {e(p.kind)} report</h1>",
        f'<p class="period">{e(p.label())} &middot; time zone {e(p.zone)} &middot; '
        f"report &ldquo;{e(report.name)}&rdquo;</p>",
        '<p class="toc">' + " &middot; ".join(f'<a href="#{s.id}">{e(s.title)}</a>' for s in report.sections) + "</p>",
    ]
    for s in report.sections:
        out.append(f'<section id="{s.id}"><h2>{e(s.title)}</h2>')
        if s.error:
            out.append(f'<p class="error">This section could not be computed: {e(s.error)}</p>')
        if s.figures:
            out.append(
                '<div class="figs">'
                + "".join(
                    f'<div class="fig"><div class="v">{e(v)}</div><div class="k">{e(k)}</div></div>'
                    for k, v in s.figures
                )
                + "</div>"
            )
        if s.notes:
            out.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in s.notes) + "</ul>")
        for c in s.charts:
            name = f"{c.name}.png"
            out.append(f'<img src="{src(name)}" alt="{e(c.title)}, {e(p.label())}" width="900">')
        for t in s.tables:
            out.append(f"<h3>{e(t.title)}</h3><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in t.headers) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in t.rows]
            out.append("</table>")
        out.append("</section>")
    out.append(
        f'<p class="foot">Generated {e(_iso(report.generated_at, p))} by tradewatch {e(__version__)} from '
        f"{e(report.prometheus_url)}. Every number is a PromQL query at the end of the period; the JSON "
        "version lists them.</p></body></html>"
    )
    return "\n".join(out)
