"""`dialectid users` and `dialectid serve`: accounts from the command line, and a server that
refuses bad settings with one line instead of a traceback."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from dialectid.casefile import CaseStore
from dialectid.casefile.accounts import Accounts
from dialectid.casefile.summaries import to_json
from dialectid.cli import app
from dialectid.web.passwords import check_password
from webapp import cheap_passwords, serve_process

runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALECTID_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DIALECTID_DATABASE_URL", raising=False)
    with cheap_passwords():
        yield tmp_path / "home"


def one_line_error(result, message: str) -> None:
    assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.output
    assert "Traceback" not in result.output


def test_users_are_added_listed_assigned_and_deactivated(home):
    added = runner.invoke(app, ["users", "add", "carla", "--role", "caseworker"], input="a long enough password\n")
    assert added.exit_code == 0 and added.stdout.strip() == "added caseworker carla", added.output
    store = CaseStore()
    stored = Accounts(store).credentials("carla")[1]
    assert stored.startswith("$argon2id$") and check_password(stored, "a long enough password")
    assert "a long enough password" not in json.dumps(to_json(store.events()))
    case = store.new_case("A B", "1990-01-01", None, "clerk").reference
    assert runner.invoke(app, ["users", "assign", case, "carla"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).stdout)
    assert [(u["name"], u["role"], u["active"], u["cases"]) for u in listed] == [("carla", "caseworker", True, 1)]
    assert runner.invoke(app, ["users", "deactivate", "carla"]).exit_code == 0
    assert Accounts(store).by_name("carla").active is False
    changed = runner.invoke(app, ["users", "set-password", "carla"], input="another long password\n")
    assert changed.exit_code == 0 and check_password(Accounts(store).credentials("carla")[1], "another long password")
    assert [e.action for e in store.events()][-3:] == ["case assigned", "user deactivated", "password set"]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "carla", "--role", "boss"], "a long enough password\n", "unknown role 'boss'; use one of"),
        (["users", "add", "carla smith", "--role", "admin"], "a long enough password\n", "is not valid: use 2 to 64"),
        (
            ["users", "add", "carla", "--role", "admin"],
            "short\n",
            "an admin's password must have 16 to 1024 characters",
        ),
        (["users", "add", "carla", "--role", "analyst"], "            \n", "the password is only white space"),
        (["users", "add", "carla", "--role", "admin"], "", "no password on standard input"),
        (["users", "deactivate", "nobody"], "", "no user 'nobody'"),
        (["users", "assign", "C-NOPE", "carla"], "", "no case 'C-NOPE'"),
    ],
)
def test_users_refuse_bad_input_with_one_line(home, args, stdin, message):
    one_line_error(runner.invoke(app, args, input=stdin), message)


def test_assigning_to_someone_who_is_not_a_caseworker_is_refused(home):
    runner.invoke(app, ["users", "add", "anna", "--role", "analyst"], input="a long enough password\n")
    case = CaseStore().new_case("A B", "1990-01-01", None, "clerk").reference
    one_line_error(runner.invoke(app, ["users", "assign", case, "anna"]), "'anna' is not an active caseworker")


def test_serve_refuses_bad_settings_with_one_line(home, tmp_path):
    one_line_error(runner.invoke(app, ["serve", "--model", str(tmp_path / "missing")]), "no such model bundle")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(runner.invoke(app, ["serve", "--port", str(port)]), f"cannot listen on 127.0.0.1:{port}")
    one_line_error(runner.invoke(app, ["serve", "--host", "no-such-host.invalid"]), "cannot listen on no-such-host")
    (tmp_path / "home").mkdir(exist_ok=True)
    bad = runner.invoke(app, ["serve"], env={"DIALECTID_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/none"})
    one_line_error(bad, "cannot open the case file")
    assert runner.invoke(app, ["serve", "--port", "70000"]).exit_code == 2  # typer's own range check


def test_serve_runs_the_web_view(tmp_path, stats_bundle):
    import time
    import urllib.request

    with serve_process(tmp_path / "home", stats_bundle) as run:
        deadline, page = time.monotonic() + 60, None
        while page is None and time.monotonic() < deadline and run.process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{run.port}/login?next=/cases", timeout=5) as answer:
                    page = (answer.status, answer.headers["content-security-policy"], answer.read().decode())
            except OSError:
                time.sleep(0.2)
        assert page is not None, "the server stopped" if run.process.poll() is not None else "no answer in 60 s"
        assert page[0] == 200 and "frame-ancestors 'self'" in page[1] and 'name="csrf_token"' in page[2]
        for host, status in (("evil.example", 400), (f"localhost:{run.port}", 307), ("[::1]", 307)):
            assert _status_and_location(run.port, host, "/cases/") == (status, None if status == 400 else
                                                                       f"http://{host}/cases"), host  # fmt: skip
    output = run.output
    assert "GET /login 200" in output and "next=" not in output  # the access log, without the query string


def _status_and_location(port: int, host: str, path: str) -> tuple[int, str | None]:
    """A request whose Host header names `host`: a name the server was not started for is refused,
    never reflected (Starlette's slash redirects are absolute URLs built from it)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        answer = connection.getresponse()
        return answer.status, answer.getheader("location")
    finally:
        connection.close()
