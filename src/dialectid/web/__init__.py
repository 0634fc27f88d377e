"""The caseworkers' web view over the case file: FastAPI, server-rendered pages, a JSON API.

`create_app(store, model)` builds the application; `dialectid serve` runs it with uvicorn.
Caseworkers read the cases assigned to them, analysts upload recordings and run analyses,
admins manage users and case assignments and watch how often feedback agrees with the results.
"""

from dialectid.web.app import create_app
from dialectid.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]
