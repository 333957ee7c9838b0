"""The page: one self-contained HTML file (plotly.js inlined once, no network), one section per
panel with its title, its one-line "how to read this", and its figures or why it has none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboards.render.style import esc

__all__ = ["PanelView", "page_html"]


@dataclass(frozen=True)
class PanelView:
    key: str  # the section's id: panel-<key>
    title: str
    how: str  # how to read this, one line
    html: str = ""  # text above the figures (already escaped)
    figures: tuple[Any, ...] = ()  # plotly figures
    empty: str | None = None  # why there is nothing to show
    error: str | None = None  # the panel could not be built (a bug: the page still renders)
    notes: tuple[str, ...] = field(default_factory=tuple)


# Installed before plotly.js: any error of the page lands in <html data-js-errors> and #js-errors.
_ERRORS_JS = """
(function () {
  function record(text) {
    var root = document.documentElement;
    root.setAttribute('data-js-errors', (root.getAttribute('data-js-errors') || '') + text + '\\n');
    var pre = document.getElementById('js-errors');
    if (pre) { pre.textContent += text + '\\n'; pre.hidden = false; }
  }
  window.addEventListener('error', function (e) {
    record('error: ' + (e.message || e) + ' at ' + (e.filename || '') + ':' + (e.lineno || ''));
  });
  window.addEventListener('unhandledrejection', function (e) {
    record('unhandled rejection: ' + (e.reason && e.reason.message || e.reason));
  });
})();
"""

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 0 20px 60px; color: #1d2a30; }
header { border-bottom: 2px solid #264653; margin-bottom: 10px; padding: 10px 0; }
h1 { margin: 8px 0 4px; font-size: 24px; }
h2 { font-size: 18px; margin: 0 0 4px; color: #264653; }
nav a { margin-right: 12px; color: #457b9d; text-decoration: none; font-size: 13px; }
.panel { border: 1px solid #dde3e6; border-radius: 6px; margin: 16px 0; padding: 12px 16px; background: #fff; }
.how { color: #51606a; font-size: 13px; margin: 0 0 8px; }
.how::before { content: 'How to read this: '; font-weight: 600; }
.empty { color: #8a5a00; background: #fff6e0; padding: 6px 10px; border-radius: 4px; font-size: 14px; }
.error { color: #8a0010; background: #ffe8ea; padding: 6px 10px; border-radius: 4px; font-size: 14px; }
.note { color: #51606a; font-size: 13px; }
.headline { font-size: 17px; margin: 4px 0; }
.verdict { font-family: ui-monospace, monospace; font-size: 12px; color: #51606a; }
table.numbers { border-collapse: collapse; font-size: 14px; margin: 6px 0; }
table.numbers th { text-align: left; font-weight: 600; padding: 2px 14px 2px 0; color: #51606a; vertical-align: top; }
table.numbers td { padding: 2px 0; }
#js-errors { color: #8a0010; }
.meta { color: #51606a; font-size: 13px; margin: 2px 0; }
"""


def _figure_html(fig: Any, div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _section(number: int, view: PanelView) -> str:
    state = "error" if view.error else "empty" if view.empty is not None else "drawn"
    body = [f"<h2>{number}. {esc(view.title)}</h2>", f"<p class='how'>{esc(view.how)}</p>"]
    if view.error:
        body.append(f"<p class='error'>This panel could not be drawn: {esc(view.error)}</p>")
    elif view.empty is not None:
        body.append(f"<p class='empty'>Nothing to show: {esc(view.empty)}.</p>")
    else:
        body.append(view.html)
        body += [f"<div class='figure'>{_figure_html(fig, f'fig-{view.key}-{i}')}</div>" for i, fig in enumerate(view.figures)]
    body += [f"<p class='note'>{esc(n)}</p>" for n in view.notes]
    return f"<section class='panel' id='panel-{view.key}' data-panel='{view.key}' data-state='{state}'>{''.join(body)}</section>"


def page_html(title: str, meta_lines: list[str], views: list[PanelView]) -> str:
    from plotly.offline import get_plotlyjs

    nav = "".join(f"<a href='#panel-{v.key}'>{i}. {esc(v.title)}</a>" for i, v in enumerate(views, 1))
    sections = "".join(_section(i, v) for i, v in enumerate(views, 1))
    meta = "".join(f"<p class='meta'>{esc(line)}</p>" for line in meta_lines)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><script>{_ERRORS_JS}</script><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{esc(title)}</h1>{meta}<nav>{nav}</nav></header>{sections}"
        "<pre id='js-errors' hidden></pre></body></html>\n"
    )
