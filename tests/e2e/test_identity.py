"""Identity that cannot be forged: the operator is the effective OS user whatever USER, LOGNAME
or CLAIMSOPS_OPERATORS say; roles come from the database; a read-only PostgreSQL role can look
but not act; the exit codes and audits of health, db upgrade and failed actions keep their word.
Real processes against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import site
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.config import IGNORED_NOTICE
from engine.db import Database
from engine.migrate import _config
from engine.operators import os_user
from tests.fixtures import csv_cases

REPO = Path(__file__).resolve().parents[2]
FORGED = {"CLAIMSOPS_OPERATORS": "alice,root", "USER": "alice", "LOGNAME": "alice", "LNAME": "alice"}


def _cli(env: dict[str, str], *args: str, user: str | None = None, extra: dict | None = None,
         python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "console.cli", *args], env={**env, **(extra or {})}, user=user,
        capture_output=True, text=True, timeout=120, cwd="/",
    )


def _python_for(user: str, env: dict[str, str]) -> tuple[str, dict[str, str]]:
    """An interpreter `user` may run with this one's packages: this one, or (when it lives
    where only root can reach, as pyenv's under /root) the system's of the same version, with
    this one's site-packages on its path."""
    try:
        subprocess.run([sys.executable, "-c", ""], user=user, check=True, timeout=60)
        return sys.executable, env
    except PermissionError:
        pass
    system = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin:/usr/local/bin")
    if system is None:
        pytest.skip(f"{user} can run neither {sys.executable} nor a system Python {sys.version_info[:2]}")
    # the checkout itself too: a PYTHONPATH entry's .pth files (the editable install's) are not read
    path = os.pathsep.join([str(REPO), env.get("PYTHONPATH", ""), *site.getsitepackages()]).strip(os.pathsep)
    env = {**env, "PYTHONPATH": path}
    probe = subprocess.run([system, "-c", "import console.cli"], env=env, user=user, capture_output=True,
                           timeout=60, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"{user} cannot read this checkout or its packages (it lives where only root can reach)")
    return system, env


@pytest.fixture
def home() -> Iterator[Path]:
    """A data directory another OS user can reach too (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="claimsops-identity-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, home: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    base["CLAIMSOPS_HOME"] = str(home)
    if request.param == "postgresql":
        base["CLAIMSOPS_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return base


def _audit(env: dict[str, str]) -> list[dict]:
    result = _cli(env, "audit", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _submit(env: dict[str, str], home: Path) -> int:
    path = csv_cases.write_sample(home, "original-basic.csv")
    result = _cli(env, "submit", str(path), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["id"]


def test_a_forged_environment_changes_nothing(env: dict[str, str], home: Path) -> None:
    job_id = _submit(env, home)
    cancelled = _cli(env, "cancel", str(job_id), extra={**FORGED, "SSH_CONNECTION": "198.51.100.7 4022 10.0.0.1 22"})
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stderr.count(IGNORED_NOTICE) == 1  # said once, and it granted nothing
    entries = _audit(env)
    assert [(e["action"], e["user"]) for e in entries] == [("cancel", os_user()), ("submit", os_user())]
    assert entries[0]["from"] == "198.51.100.7"  # the client's claim, recorded as such
    assert IGNORED_NOTICE not in _cli(env, "jobs").stderr


def test_another_os_user_with_a_forged_environment_is_refused_and_audited_as_itself(
    env: dict[str, str], home: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("running the CLI as another OS user needs root (the tests run as root in CI)")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user 'nobody' to act as the other OS user")
    _submit(env, home)  # root creates the database: root is its first admin
    for path in [home, *home.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    path = csv_cases.write_sample(home, "original-basic.csv")
    path.chmod(0o644)
    forged = {**FORGED, "CLAIMSOPS_OPERATORS": "root", "USER": "root", "LOGNAME": "root", "HOME": str(home)}
    python, env = _python_for("nobody", env)
    refused = _cli(env, "submit", str(path), user="nobody", extra=forged, python=python)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and lines[0] == f"claimsops: {IGNORED_NOTICE}", refused.stderr
    assert lines[1] == ("claimsops: submit refused: read-only: nobody is not an operator — "
                        "an admin can grant it: claimsops operators add nobody")
    entry = _audit(env)[0]
    assert (entry["user"], entry["action"], entry["outcome"]) == ("nobody", "submit", "refused")
    granted = _cli(env, "operators", "add", "nobody", user="nobody", extra=forged, python=python)
    assert granted.returncode == 1 and "role.grant refused" in granted.stderr
    assert (_audit(env)[0]["user"], _audit(env)[0]["action"]) == ("nobody", "role.grant")


def test_operators_list_add_remove_from_the_command_line(env: dict[str, str]) -> None:
    me = os_user()
    assert _cli(env, "operators", "add", "ann").stdout == "ann is operator\n"
    assert _cli(env, "operators", "add", "ann", "--admin").stdout == "ann is admin (was operator)\n"
    listed = json.loads(_cli(env, "operators", "list", "--json").stdout)
    assert [(g["user"], g["role"], g["granted_by"]) for g in listed] == [("ann", "admin", me), (me, "admin", me)]
    human = _cli(env, "operators", "list").stdout
    assert human.splitlines()[0].startswith("USER") and max(map(len, human.splitlines())) <= 80
    assert _cli(env, "operators", "remove", me).stdout == f"{me} is read-only\n"
    last = _cli(env, "operators", "remove", "ann", extra={"CLAIMSOPS_OPERATORS": me})
    assert last.returncode == 1
    assert last.stderr.splitlines()[-1] == f"claimsops: role.revoke refused: read-only: {me} is not an operator — " \
        f"an admin can grant it: claimsops operators add {me}"
    assert [(e["action"], e["target"], e["outcome"]) for e in _audit(env)] == [
        ("role.revoke", "ann", "refused"), ("role.revoke", me, "ok"),
        ("role.grant", "ann as admin", "ok"), ("role.grant", "ann as operator", "ok")]


def test_read_only_for_the_session_only_takes_rights_away(env: dict[str, str], home: Path) -> None:
    path = csv_cases.write_sample(home, "original-basic.csv")
    refused = _cli(env, "submit", str(path), extra={"CLAIMSOPS_READ_ONLY": "1"})
    assert refused.returncode == 1 and "submit refused: this session is read-only" in refused.stderr
    assert _cli(env, "operators", "remove", os_user(), extra={"CLAIMSOPS_READ_ONLY": "1"}).returncode == 1
    assert _cli(env, "operators", "add", "bea", "--admin").returncode == 0
    assert _cli(env, "operators", "remove", os_user()).returncode == 0
    assert _cli(env, "submit", str(path), extra={"CLAIMSOPS_READ_ONLY": "0"}).returncode == 1


def test_db_upgrade_needs_an_operator(env: dict[str, str]) -> None:
    assert _cli(env, "db", "upgrade").returncode == 0
    assert _cli(env, "operators", "add", "bea", "--admin").returncode == 0
    assert _cli(env, "operators", "remove", os_user()).returncode == 0
    refused = _cli(env, "db", "upgrade")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"claimsops: db.upgrade refused: read-only: {os_user()} is not an operator")
    assert [(e["action"], e["outcome"]) for e in _audit(env)][:1] == [("db.upgrade", "refused")]


def test_whoever_upgrades_a_database_older_than_the_operators_table_becomes_its_admin(
    env: dict[str, str], home: Path,
) -> None:
    database = Database(env.get("CLAIMSOPS_DATABASE_URL") or f"sqlite:///{home / 'claimsops.db'}", migrate=False)
    command.upgrade(_config(database.write_engine), "0002")
    database.dispose()
    upgraded = _cli(env, "db", "upgrade")
    assert upgraded.returncode == 0 and "upgraded to revision 0004" in upgraded.stdout
    listed = json.loads(_cli(env, "operators", "list", "--json").stdout)
    assert [(g["user"], g["role"]) for g in listed] == [(os_user(), "admin")]
    assert [(e["action"], e["user"], e["outcome"]) for e in _audit(env)] == [("db.upgrade", os_user(), "ok")]


def test_health_exits_2_on_a_corrupt_sqlite_file(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env["CLAIMSOPS_HOME"] = str(home)
    (home / "claimsops.db").write_bytes(b"this is not a database file" * 100)
    human = _cli(env, "health")
    assert human.returncode == 2 and human.stdout.rstrip().endswith("overall: unhealthy"), human.stderr
    assert "Traceback" not in human.stderr
    data = json.loads(_cli(env, "health", "--json").stdout)
    assert data["status"] == "unhealthy" and data["checks"][0]["name"] == "database"
    assert "not a database" in data["checks"][0]["detail"]


@pytest.mark.parametrize("name,value,secret", [
    ("CLAIMSOPS_ALERT_WEBHOOK", "hooks.example.com/services/T0/B0/tok3nSecret", "tok3nSecret"),
    ("CLAIMSOPS_ALERT_URLS", "json://hooks.example/ok, pagerduty-tok3nSecret", "tok3nSecret"),
    ("CLAIMSOPS_HEARTBEAT_URL", "hc-ping.example/5bf66975-tok3nSecret", "tok3nSecret"),
    ("CLAIMSOPS_PAYER_URL", "user:pa55word@payer.example", "pa55word"),
    ("CLAIMSOPS_BROKER_URL", "redis-password-hunter2", "hunter2"),
    ("CLAIMSOPS_DATABASE_URL", "postgresql://app:s3cretpw@db.example:notaport/claims", "s3cretpw"),
    ("CLAIMSOPS_DATABASE_URL", "nosuchdriver://app:s3cretpw@db.example/claims", "s3cretpw"),
])
def test_configuration_errors_name_the_variable_never_its_value(
    home: Path, name: str, value: str, secret: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env["CLAIMSOPS_HOME"] = str(home)
    for args in (["jobs"], ["jobs", "--json"], ["health"]):
        result = _cli(env, *args, extra={name: value})
        assert result.returncode in (1, 2), result.stderr
        assert secret not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr
    said = _cli(env, "jobs", extra={name: value}).stderr
    assert len(said.strip().splitlines()) == 1
    assert name in said or "database" in said


@pytest.fixture
def role_url(pg_url: str) -> Iterator[Callable[[bool], str]]:
    """The migrated test schema reached through a new PostgreSQL role (unique per test, dropped
    afterwards) that may read it, or with `False` may not even do that."""
    roles: list[str] = []
    schema = pg_url.rsplit("%3D", 1)[1]
    Database(pg_url).dispose()
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")

    def make(can_read: bool) -> str:
        role = f"claimsops_ro_{uuid.uuid4().hex[:10]}"
        roles.append(role)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
            if can_read:
                conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
                conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'))
        return make_url(pg_url).set(username=role).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for role in roles:
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.fixture
def read_only_url(role_url: Callable[[bool], str]) -> str:
    return role_url(True)


def test_health_exits_2_when_the_database_role_cannot_read(role_url: Callable[[bool], str], home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env.update(CLAIMSOPS_HOME=str(home), CLAIMSOPS_DATABASE_URL=role_url(False))
    result = _cli(env, "health")
    assert result.returncode == 2 and result.stdout.rstrip().endswith("overall: unhealthy"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_read_only_postgresql_role_can_look_but_not_act(pg_url: str, read_only_url: str, home: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    writer = {**base, "CLAIMSOPS_HOME": str(home), "CLAIMSOPS_DATABASE_URL": pg_url}
    viewer = {**writer, "CLAIMSOPS_DATABASE_URL": read_only_url}
    job_id = _submit(writer, home)
    for args in (["jobs"], ["jobs", "--json"], ["job", str(job_id)], ["logs"], ["stats"], ["stats", "--json"],
                 ["audit"], ["operators", "list"], ["tasks"]):
        result = _cli(viewer, *args)
        assert result.returncode == 0 and result.stderr == "", (args, result.stderr)
    assert json.loads(_cli(viewer, "jobs", "--json").stdout)[0]["id"] == job_id
    assert _cli(viewer, "health").returncode == _cli(writer, "health").returncode
    path = csv_cases.write_sample(home, "original-basic.csv")
    for args in (["submit", str(path)], ["cancel", str(job_id)]):
        refused = _cli(viewer, *args)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 1 and len(lines) == 1, refused.stderr
        assert "this database role may only read" in lines[0] and "acting needs a role that can write" in lines[0]
    assert _cli(writer, "job", str(job_id), "--json").returncode == 0
    assert json.loads(_cli(writer, "job", str(job_id), "--json").stdout)["status"] == "PENDING"


def test_the_console_starts_and_reads_with_a_read_only_postgresql_role(read_only_url: str, home: Path) -> None:
    from console.tui import build_app
    from engine import health
    from engine.audit import audit_page
    from engine.config import Settings
    from engine.jobs.liveness import liveness_of
    from engine.jobs.queries import JobQuery, jobs_page
    from engine.logsink import LogFilter, last_lines
    from engine.stats import collect

    settings = Settings(home=home, database_url=read_only_url)
    app = build_app(settings=settings)
    try:
        db = app.ctx.db
        assert app.ctx.operator.user == os_user()
        rows = jobs_page(db, JobQuery(), limit=50)
        liveness_of(db, rows)
        last_lines(db, LogFilter(), 100)
        collect(db, settings)
        audit_page(db)
        assert health.run_checks(db, settings)[0].state != health.FAILING
    finally:
        app.payer.close()
        app.ctx.db.dispose()


def test_the_command_line_says_when_a_failure_could_not_be_audited(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str,
) -> None:
    from console import cli
    from engine import submit

    monkeypatch.setenv("CLAIMSOPS_DATABASE_URL", db_url)
    path = csv_cases.write_sample(tmp_path, "original-basic.csv")

    def full_disk(db, *_args, **_kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        raise OSError(28, "No space left on device", str(tmp_path / "home" / "uploads"))

    monkeypatch.setattr(submit, "submit_file", full_disk)
    assert cli.main(["submit", str(path)]) == 1
    assert capsys.readouterr().err == f"claimsops: {tmp_path / 'home' / 'uploads'}: no space left on device\n"

    def full_disk_and_audit(db, *_args, **_kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        with db.write() as session:
            session.execute(text("DROP TABLE audit"))
        raise OSError(28, "No space left on device", str(tmp_path / "home" / "uploads"))

    monkeypatch.setattr(submit, "submit_file", full_disk_and_audit)
    assert cli.main(["submit", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"claimsops: {tmp_path / 'home' / 'uploads'}: no space left on device (not audited: ")
    assert len(err.splitlines()) == 1
