"""What every request handler works with, built once by `create_app` and kept in `app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dialectid.casefile import CaseStore
from dialectid.casefile.accounts import Accounts
from dialectid.models.bundle import Bundle
from dialectid.web.jobs import AnalysisJobs
from dialectid.web.limits import Guards
from dialectid.web.sessions import CookieSigner
from dialectid.web.settings import WebSettings


@dataclass
class WebContext:
    store: CaseStore
    accounts: Accounts
    settings: WebSettings
    signer: CookieSigner
    bundle: Bundle  # the model new analyses use
    jobs: AnalysisJobs
    guards: Guards  # throttles, quotas and the aggregated audit of refusals


def web_context(request: Request) -> WebContext:
    return request.app.state.web


Web = Annotated[WebContext, Depends(web_context)]  # a route's parameter: the app's context
