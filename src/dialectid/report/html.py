"""The HTML rendering (Jinja2, autoescaped): the same content as the PDF, for the web view."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, select_autoescape

from dialectid.report.content import NOTICE, ReportContent


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("dialectid.report", "templates"),
                       autoescape=select_autoescape(["html", "j2"]))  # fmt: skip


def render_html(content: ReportContent) -> str:
    return _environment().get_template("report.html.j2").render(c=content, title=content.title, notice=NOTICE)
