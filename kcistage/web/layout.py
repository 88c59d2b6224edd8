"""The frame every HTML page of `serve` shares: head, the one stylesheet, its CSP, phone layout.

No JavaScript anywhere: the stylesheet is allowed by its hash in the Content-Security-Policy,
which forbids scripts and every other source. Wide tables (`table.rows`) become one block per
row on a narrow screen, each cell labelled, so a phone never scrolls sideways; long words wrap.
The labels are text that the stylesheet hides on a wide screen, so a text browser (no CSS)
shows them too, instead of a row of values run together.
"""

from __future__ import annotations

import base64
import hashlib

from kcistage.web.html_text import esc

REFRESH_SECONDS = 60
STYLE = """
body{font-family:system-ui,sans-serif;margin:1em auto;max-width:75em;padding:0 .8em;color:#222;
overflow-wrap:break-word;line-height:1.4}
h1{font-size:1.45em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.5em}
.meta{color:#555;margin-top:0}nav a{margin-right:.8em}
dl.summary{display:grid;grid-template-columns:minmax(6em,max-content) 1fr;gap:.3em 1em}
dt{font-weight:bold}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:.93em}
th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f3f3f3}tr:target{background:#fff6c8;outline:2px solid #c9a400}
code{font-size:.95em}.nowrap{white-space:nowrap}
.s-deployed,.r-success,.r-ok{color:#1b5e20;font-weight:bold}
.s-pending,.r-running{color:#0d47a1;font-weight:bold}
.s-excluded,.r-failed,.r-timeout{color:#b71c1c;font-weight:bold}
.s-skipped,.r-skipped{color:#555}.r-interrupted{color:#b34700;font-weight:bold}
.paused{color:#b71c1c;font-weight:bold}.change{color:#333}
figure.timeline{margin:.5em 0}figure.timeline img{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9em}
footer{margin-top:2em;color:#555;font-size:.9em}.lbl{display:none}
@media (max-width:40em){
table.rows,table.rows tbody,table.rows tr,table.rows td{display:block;width:auto}
table.rows thead{display:none}
table.rows tr{border:1px solid #ccc;border-radius:4px;margin:.6em 0;padding:.3em .2em}
table.rows td{border:none;padding:.12em .4em}
table.rows .lbl{display:inline;font-weight:bold;color:#444}
dl.summary{grid-template-columns:1fr}dd{margin-bottom:.4em}
}
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = ("default-src 'none'; style-src 'sha256-" + _STYLE_HASH + "'; img-src data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def document(title: str, body: str, refresh: bool = True) -> str:
    """A whole HTML page; `refresh`: the browser reloads it every minute (no JavaScript)."""
    again = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">' + again +
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n{body}"
            "</body></html>\n")


def cell(label: str, content: str, css: str = "") -> str:
    """A table cell labelled for the phone layout (`content` is HTML already escaped)."""
    klass = f' class="{css}"' if css else ""
    return f'<td{klass}><span class="lbl">{esc(label)}: </span>{content}</td>'


def table(headers: list[str], rows: list[str]) -> str:
    """A `table.rows` (a list of blocks on a phone) from ready <tr> rows."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return (f'<table class="rows"><thead><tr>{head}</tr></thead><tbody>' + "".join(rows)
            + "</tbody></table>\n")
