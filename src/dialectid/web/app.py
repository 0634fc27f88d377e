"""`create_app`: the FastAPI application over one case file and one model."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Route

from dialectid.casefile import CaseStore
from dialectid.casefile.accounts import Accounts
from dialectid.models.bundle import Bundle, load_model
from dialectid.scoring.dialects import compose
from dialectid.version import __version__
from dialectid.web import api, pages_admin, pages_auth, pages_cases, pages_workflow
from dialectid.web.auditing import route_words
from dialectid.web.context import WebContext
from dialectid.web.handlers import install_error_handlers
from dialectid.web.jobs import AnalysisJobs
from dialectid.web.limits import Guards
from dialectid.web.middleware import AccessLog, AllowedHosts, BodyLimit, ErrorBoundary, SecurityHeaders
from dialectid.web.sessions import CookieSigner, session_secret
from dialectid.web.settings import WebSettings
from dialectid.web.uploads import upload_too_large

ROUTERS = (
    pages_auth.router,
    pages_cases.router,
    pages_workflow.router,
    pages_admin.router,
    api.router,
)  # every route of the app
DESCRIPTION = ("The caseworkers' view of the dialectid case file. Log in with `POST /api/session`; the "
               "session cookie then authenticates every call, and calls that change something also send the "
               "`csrf_token` from that answer in an `X-CSRF-Token` header.")  # fmt: skip


def create_app(store: CaseStore | None = None, model: Path | Bundle | None = None,
               settings: WebSettings | None = None, dialect_model: Path | Bundle | None = None) -> FastAPI:  # fmt: skip
    """The web view over `store` (default: the case file in DIALECTID_HOME), analysing new
    recordings with `model` (default: the shipped accurate model) and, where given, the dialect
    bundle `dialect_model` under it. A missing or altered model bundle, a dialect bundle that does
    not fit the model, or a case file that cannot be opened, raises a `DialectidError` here, not later.
    `dialectid serve` runs it: `uvicorn.run(create_app(), host="127.0.0.1", port=8000)`.
    """
    from dialectid.scoring import default_model_path

    store = store or CaseStore()
    bundle = model if isinstance(model, Bundle) else load_model(model or default_model_path())
    dialect = dialect_model if isinstance(dialect_model, Bundle) or dialect_model is None else load_model(dialect_model)
    if dialect is not None:
        compose(bundle, dialect)  # refused now, not at the first analysis
    settings = settings or WebSettings()
    words = route_words([route.path for router in ROUTERS for route in router.routes if isinstance(route, Route)])
    web = WebContext(store, Accounts(store), settings, CookieSigner(session_secret(store.keys_dir)), bundle,
                     AnalysisJobs(store, bundle, dialect=dialect), Guards.of(settings, words))  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        web.jobs.run()  # takes up the jobs a stopped or crashed server left in the queue
        yield
        await asyncio.to_thread(web.jobs.shutdown)  # waits for the analysis in hand, off the event loop
        await asyncio.to_thread(web.guards.audit.flush)  # the final counts of repeated failures and refusals

    # The interactive docs pages load scripts from a CDN, which the CSP (and the network) forbid;
    # the OpenAPI document itself is served to admins by `api.openapi_document`.
    app = FastAPI(title="dialectid web view", version=__version__, description=DESCRIPTION, docs_url=None,
                  redoc_url=None, openapi_url=None, lifespan=lifespan)  # fmt: skip
    app.state.web = web
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("dialectid.web", "static")]), name="static")
    install_error_handlers(app)
    # add_middleware wraps what is there: the last added runs first on the way in.
    app.add_middleware(BodyLimit, upload_limit=settings.upload_limit_bytes, form_limit=settings.form_limit_bytes,
                       message=lambda: upload_too_large(settings))  # fmt: skip
    app.add_middleware(ErrorBoundary)
    app.add_middleware(SecurityHeaders, https_only=settings.https)
    app.add_middleware(AllowedHosts, hosts=settings.allowed_hosts)  # inside the access log, which records refusals
    app.add_middleware(AccessLog)
    return app
