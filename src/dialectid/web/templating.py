"""Server-rendered pages: Jinja2 with autoescaping, one layout, no inline script or style."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.templating import Jinja2Templates

from dialectid.audio.quality import flag_text
from dialectid.names import label_name
from dialectid.report.dialect import dialect_content
from dialectid.web.auth import Principal
from dialectid.web.playback import player_path
from dialectid.web.wording import QUALITY, recording_label, result_wording


def percent(value: float | None) -> str:
    """A probability as the reports write it.

    >>> percent(0.7912), percent(None)
    ('79.1 %', '–')
    """
    return "–" if value is None else f"{100 * value:.1f} %"


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    environment = Environment(loader=PackageLoader("dialectid.web", "templates"),
                              autoescape=select_autoescape(["html", "j2"]))  # fmt: skip
    environment.filters["percent"] = percent
    environment.filters["label_name"] = label_name
    environment.filters["flag_text"] = flag_text
    environment.filters["wording"] = result_wording
    environment.filters["dialect_content"] = dialect_content
    environment.filters["recording_label"] = recording_label
    environment.globals["player_path"] = player_path
    environment.globals["quality_words"] = QUALITY
    return Jinja2Templates(env=environment)


def page(request: Request, template: str, user: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` in the layout; forms in it get the user's CSRF token as `csrf`."""
    context = {"user": user, "csrf": user.csrf_token if user else None, **context}
    return templates().TemplateResponse(request, template, context, status_code=status)
