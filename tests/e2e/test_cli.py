"""The command line as an operator uses it: real processes, real files, one-line errors."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import csv_cases

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env["CLAIMSOPS_HOME"] = str(tmp_path / "home")

    def run(*args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "console.cli", *args], cwd=tmp_path, env={**env, **(extra_env or {})},
            capture_output=True, text=True, timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"claimsops {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    return run


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("claimsops: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_submit_list_cancel_and_refuse_again(cli, tmp_path: Path) -> None:
    path = csv_cases.write_sample(tmp_path, "original-basic.csv")
    job = json.loads(cli("submit", str(path), "--json").stdout)
    assert job["status"] == "PENDING" and job["total_rows"] == 5 and job["file_name"] == "original-basic.csv"
    listed = json.loads(cli("jobs", "--json").stdout)
    assert [(j["id"], j["status"], j["total_rows"]) for j in listed] == [(job["id"], "PENDING", 5)]
    for key in ("id", "status", "file_name", "total_rows", "done_rows", "found_rows", "not_found_rows",
                "error_rows", "invalid_rows", "warnings", "created_at", "submitted_by"):
        assert key in listed[0]
    cancelled = json.loads(cli("cancel", str(job["id"]), "--json").stdout)
    assert cancelled["status"] == "CANCELLED"
    again = cli("cancel", str(job["id"]), check=False)
    assert _one_line_error(again) == f"claimsops: job {job['id']} is CANCELLED and cannot be cancelled"
    audit = json.loads(cli("audit", "--json").stdout)
    assert [(a["action"], a["outcome"]) for a in audit] == [("cancel", "failed"), ("cancel", "ok"), ("submit", "ok")]
    assert all({"user", "action", "target", "outcome", "at"} <= a.keys() for a in audit)


@pytest.mark.parametrize("case,message", [
    ("empty.csv", "claimsops: empty.csv: the file is empty"),
    ("header-only.csv", "claimsops: header-only.csv: no data rows"),
    ("no-claim-column.csv", "claimsops: no-claim-column.csv: no claim number column"),
    ("not-a-csv.csv", "claimsops: not-a-csv.csv: not a CSV file"),
])
def test_whole_file_rejections_create_nothing(cli, tmp_path: Path, case: str, message: str) -> None:
    path = csv_cases.write_sample(tmp_path, case)
    assert _one_line_error(cli("submit", str(path), check=False)).startswith(message)
    assert json.loads(cli("jobs", "--json").stdout) == []


def test_errors_are_one_line_never_a_traceback(cli, tmp_path: Path) -> None:
    assert "No such file" in _one_line_error(cli("submit", "missing.csv", check=False))
    assert "job 42 does not exist" in _one_line_error(cli("job", "42", check=False))
    assert "must be a whole number" in _one_line_error(
        cli("jobs", check=False, extra_env={"CLAIMSOPS_LEASE_SECONDS": "soon"}))
    assert "CLAIMSOPS_PAYER_TIN" in _one_line_error(cli("jobs", check=False, extra_env={"CLAIMSOPS_PAYER_TIN": "12"}))
    assert "is not a date" in _one_line_error(cli("submit", "x.csv", "--start-date", "2025-02-30", check=False))
    assert "strategy" in _one_line_error(cli("submit", "x.csv", "--strategy", "fast", check=False))
    bad_db = cli("jobs", check=False, extra_env={"CLAIMSOPS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert "database" in _one_line_error(bad_db)


def test_read_only_user_is_refused_and_audited(cli, tmp_path: Path) -> None:
    path = csv_cases.write_sample(tmp_path, "original-basic.csv")
    cli("operators", "add", "someone-else", "--admin")
    cli("operators", "remove", getpass.getuser())
    refused = cli("submit", str(path), check=False)
    assert "submit refused" in _one_line_error(refused)
    assert _one_line_error(refused).endswith(
        f" — an admin can grant it: claimsops operators add {getpass.getuser()}")
    audit = json.loads(cli("audit", "--json").stdout)
    assert audit[0]["action"] == "submit" and audit[0]["outcome"] == "refused"
    assert json.loads(cli("jobs", "--json").stdout) == []


def test_human_output_fits_80_columns(cli, tmp_path: Path) -> None:
    path = csv_cases.write_sample(tmp_path, "hostile-text.csv")
    cli("submit", str(path))
    for args in (["jobs"], ["job", "1"], ["audit"], ["--help"], ["submit", "--help"]):
        out = cli(*args).stdout
        assert max(len(line) for line in out.splitlines()) <= 80, (args, out)
        assert "\x1b" not in out


def test_export_writes_the_results_file(cli, tmp_path: Path) -> None:
    path = csv_cases.write_sample(tmp_path, "row-problems.csv")
    cli("submit", str(path))
    out = tmp_path / "results.csv"
    assert "wrote 7 rows" in cli("export", "1", "-o", str(out)).stdout
    lines = out.read_text().splitlines()
    assert lines[0].startswith("row,claim_number,status,patient_name,total_charged,total_paid,processed_date")
    assert sum(",Invalid," in line for line in lines) == 5
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_export_never_overwrites_without_force(cli, tmp_path: Path) -> None:
    cli("submit", str(csv_cases.write_sample(tmp_path, "row-problems.csv")))
    out = tmp_path / "important.txt"
    out.write_text("keep me")
    error = _one_line_error(cli("export", "1", "-o", str(out), check=False))
    assert "important.txt already exists" in error and "--force" in error
    assert out.read_text() == "keep me"
    assert "wrote 7 rows" in cli("export", "1", "-o", str(out), "--force").stdout
    assert out.read_text().startswith("row,claim_number,")


def test_export_defaults_to_the_private_exports_directory(cli, tmp_path: Path) -> None:
    cli("submit", str(csv_cases.write_sample(tmp_path, "row-problems.csv")))
    stdout = cli("export", "1").stdout
    exports = tmp_path / "home" / "exports"
    [written] = exports.iterdir()
    assert written.name == "row-problems-job1-results.csv" and str(written) in stdout
    assert oct(exports.stat().st_mode & 0o777) == "0o700"
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".csv") and "results" in p.name]


def test_export_to_a_missing_directory_is_one_clear_line(cli, tmp_path: Path) -> None:
    cli("submit", str(csv_cases.write_sample(tmp_path, "row-problems.csv")))
    error = _one_line_error(cli("export", "1", "-o", "/nonexistent-dir/x.csv", check=False))
    assert error.startswith("claimsops: /nonexistent-dir: no such directory")
    assert ".part" not in error


def test_db_upgrade_is_idempotent(cli) -> None:
    first = cli("db", "upgrade").stdout
    second = cli("db", "upgrade").stdout
    assert "revision" in first and "already at revision" in second


def test_bench_without_the_checkouts_bench_folder_says_where_it_is(tmp_path: Path) -> None:
    """An installed wheel holds engine, workers and console only: `claimsops bench` names the
    checkout's bench/ folder in one line and exits 2; every other command's parser still builds."""
    site = tmp_path / "site"
    for package in ("engine", "workers", "console"):
        shutil.copytree(REPO / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env.update(PYTHONPATH=str(site), CLAIMSOPS_HOME=str(tmp_path / "home"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "console.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    bench = run("bench", "--quick")
    assert bench.returncode == 2 and bench.stdout == ""
    assert bench.stderr == ("claimsops bench: the benchmarks live in the source checkout's bench/ folder "
                            "(run it from a clone)\n")
    assert run("--help").returncode == 0 and run("bench", "--help").returncode == 0


def test_bench_is_found_beside_an_editable_install(tmp_path: Path) -> None:
    """The editable install's finder maps engine, workers and console only, and the `claimsops`
    script does not put the checkout on sys.path: the command finds bench/ beside console/."""
    finder = (
        "import sys\n"
        "from importlib.machinery import PathFinder\n"
        "class Editable:\n"
        "    @classmethod\n"
        "    def find_spec(cls, name, path=None, target=None):\n"
        f"        return PathFinder.find_spec(name, [{str(REPO)!r}]) if name in ('engine', 'workers', 'console') else None\n"
        "sys.meta_path.insert(0, Editable)\n"
        "from console.bench_command import load_bench\n"
        "print(load_bench('suite').__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-P", "-c", finder], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert Path(out.stdout.strip()) == REPO / "bench" / "suite.py"


def _no_controls(text: str) -> bool:
    return not any(ord(c) < 0x20 and c not in "\n" or 0x7F <= ord(c) < 0xA0 for c in text)


def test_no_human_output_hands_the_terminal_a_control_character(cli, tmp_path: Path) -> None:
    evil = tmp_path / "evil\x1b]52;c;eA==\x07\x1b[2J.csv"
    evil.write_bytes(csv_cases.write_sample(tmp_path, "hostile-text.csv").read_bytes())
    submitted = cli("submit", str(evil))
    assert _no_controls(submitted.stdout) and _no_controls(submitted.stderr)
    for args in (["jobs"], ["job", "1"], ["logs"], ["audit"], ["export", "1"], ["stats"], ["tasks"]):
        result = cli(*args)
        assert _no_controls(result.stdout) and _no_controls(result.stderr), args
    refused = cli("job", "1\x1b[2J", check=False)
    assert refused.returncode == 2 and _no_controls(refused.stderr)
    data = json.loads(cli("job", "1", "--json").stdout)  # JSON stays exact, its encoder escapes
    assert data["file_name"] == evil.name


# --- what a refused or failed submit leaves on stderr and in the audit, on both databases ------

PHI = ("SKYLER", "SMITH", "07/26/2002", "2002-07-26", "0490705351")


def _audit_detail(cli, env: dict) -> str:
    entries = json.loads(cli("audit", "--json", extra_env=env).stdout)
    assert entries[0]["action"] == "submit" and entries[0]["outcome"] == "failed"
    return entries[0]["detail"]


def _no_sql_or_phi(*texts: str) -> None:
    for text in texts:
        for leak in ("[SQL", "parameters", "INSERT", "job_rows (", "Traceback", *PHI):
            assert leak not in text, (leak, text)


def test_a_headerless_file_is_refused_naming_the_line_not_the_data(cli, tmp_path: Path, db_url: str) -> None:
    env = {"CLAIMSOPS_DATABASE_URL": db_url}
    result = cli("submit", str(csv_cases.write_headerless(tmp_path)), check=False, extra_env=env)
    line = _one_line_error(result)
    assert line.startswith("claimsops: headerless.csv: line 1 looks like data: the file needs a header row")
    detail = _audit_detail(cli, env)
    assert detail.startswith("headerless.csv: line 1 looks like data")
    _no_sql_or_phi(result.stderr, detail, result.stdout)


def test_a_long_claim_number_is_one_invalid_row_through_the_cli(cli, tmp_path: Path, db_url: str) -> None:
    env = {"CLAIMSOPS_DATABASE_URL": db_url}
    path = csv_cases.write_csv(tmp_path, "long.csv", f"{csv_cases.HEADER}\n{'C' * 70},SKYLER,SMITH,07/26/2002,"
                               "0490705351\nFG53171076,SKYLER,SMITH,07/26/2002,0490705351\n")
    job = json.loads(cli("submit", str(path), "--json", "--tin", "123456789", extra_env=env).stdout)
    assert (job["total_rows"], job["invalid_rows"]) == (2, 1)


def test_a_database_error_leaves_no_sql_or_row_values_anywhere(cli, tmp_path: Path, db_url: str) -> None:
    from sqlalchemy import create_engine, text

    from engine.db import normalise_url

    env = {"CLAIMSOPS_DATABASE_URL": db_url}
    cli("db", "upgrade", extra_env=env)
    engine = create_engine(normalise_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE job_rows"))
    engine.dispose()
    path = csv_cases.write_sample(tmp_path, "original-basic.csv")
    result = cli("submit", str(path), "--tin", "123456789", check=False, extra_env=env)
    line = _one_line_error(result)
    assert line in ("claimsops: database unavailable: OperationalError",
                    "claimsops: database unavailable: ProgrammingError")
    detail = _audit_detail(cli, env)
    assert detail == line.removeprefix("claimsops: ")
    _no_sql_or_phi(result.stderr, result.stdout, detail)


def test_a_fifo_or_a_symlink_to_a_secret_is_refused_at_once_and_never_echoed(cli, tmp_path: Path,
                                                                             db_url: str) -> None:
    env = {"CLAIMSOPS_DATABASE_URL": db_url}
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result = cli("submit", str(fifo), check=False, extra_env=env)  # the fixture's timeout: never hangs
    assert _one_line_error(result) == (
        "claimsops: pipe.csv: not a regular file (it is a named pipe (FIFO)); give the path of a CSV file")
    shadow = Path("/etc/shadow")
    if shadow.is_file():
        link = tmp_path / "claims.csv"
        link.symlink_to(shadow)
        result = cli("submit", str(link), check=False, extra_env=env)
        line = _one_line_error(result)
        assert line.startswith("claimsops: claims.csv: ")
        for secret in ("root:", "$6$", "$y$", ":99999:"):
            assert secret not in line and secret not in _audit_detail(cli, env)


def test_payer_sim_writes_a_test_file_of_5000_rows_and_exits(cli, tmp_path: Path) -> None:
    result = cli("payer-sim", "--write-csv", "claims.csv", "--rows", "5000")
    assert result.stdout.strip() == ("wrote 5,000 rows to claims.csv and the expected results to "
                                     "claims.expected.json")
    lines = (tmp_path / "claims.csv").read_text().splitlines()
    assert len(lines) == 5001 and lines[0].startswith("claim_number,")
    assert len(json.loads((tmp_path / "claims.expected.json").read_text())) == 5000
    too_many = cli("payer-sim", "--write-csv", "x.csv", "--rows", "100001", check=False)
    assert too_many.returncode == 2 and "at most 100,000" in too_many.stderr
HEAVY = ("textual", "httpx", "alembic", "dramatiq", "apscheduler", "engine.payer.client", "engine.payer.planner",
         "engine.health", "engine.tasks.registry",
         "sqlalchemy.dialects.postgresql", "tomllib")  # the home's SQLite, no CLAIMSOPS_CONFIG


def test_listing_showing_and_cancelling_a_job_import_nothing_they_do_not_need(cli, tmp_path: Path) -> None:
    """The light commands start fast: none of them loads the console, the payer client, the
    planner, Alembic (the schema is current), the workers' libraries or, on SQLite, PostgreSQL's
    dialect."""
    path = csv_cases.write_sample(tmp_path, "original-basic.csv")
    job = json.loads(cli("submit", str(path), "--tin", "123456789", "--json").stdout)
    probe = (
        "import contextlib, io, sys\n"
        "from console.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    codes = [main(['jobs', '--json']), main(['job', '{job['id']}', '--json']), main(['cancel', '{job['id']}'])]\n"
        f"print(codes, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")},
             "CLAIMSOPS_HOME": str(tmp_path / "home")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 0, 0] []", out.stdout


def test_cancel_wait_says_in_one_line_that_it_timed_out(cli, tmp_path: Path) -> None:
    """A running job whose worker never confirms the cancel: `--wait` gives up after --timeout,
    with exit 1, one line on stderr, and the job (CANCELLING) as JSON on stdout."""
    from engine.db import Database
    from engine.jobs import lifecycle

    path = csv_cases.write_sample(tmp_path, "original-basic.csv")
    job = json.loads(cli("submit", str(path), "--tin", "123456789", "--json").stdout)
    db = Database(f"sqlite:///{tmp_path / 'home' / 'claimsops.db'}")
    assert lifecycle.claim(db, job["id"], "gone-worker", 600, 3) is not None  # its worker never answers
    db.dispose()
    result = cli("cancel", str(job["id"]), "--wait", "--timeout", "0.3", "--json", check=False)
    assert result.returncode == 1
    assert _one_line_error(result).startswith(f"claimsops: timed out after 0.3 s waiting for job {job['id']} "
                                              "to be CANCELLED (it is CANCELLING")
    assert json.loads(result.stdout)["stored_status"] == "CANCELLING"
    audit = json.loads(cli("audit", "--json").stdout)
    assert (audit[0]["action"], audit[0]["outcome"]) == ("cancel", "ok")
    bad = cli("cancel", str(job["id"]), "--wait", "--timeout", "0", check=False)
    assert bad.returncode == 2 and "above 0" in bad.stderr


def _command_parsers(parser) -> dict:  # noqa: ANN001
    return next(a for a in parser._actions if a.dest == "command").choices


def test_a_command_line_gets_the_parser_every_command_line_would() -> None:
    """`main` builds only the named command's parser: the same arguments, defaults and help as
    in the parser of every command, and every command's parser for any other first word."""
    from console.cli import build_parser

    full = build_parser()
    for name, whole in _command_parsers(full).items():
        alone = _command_parsers(build_parser(name))
        assert name in alone and alone[name].format_help() == whole.format_help(), name
        assert len(alone) == 1 or len(alone) == len(_command_parsers(full)), name
    assert len(_command_parsers(build_parser("jobs"))) == 1
    assert len(_command_parsers(build_parser("tasks"))) == len(_command_parsers(full))  # added by a module
    for argv in (["jobs", "--json", "-n", "3", "--status", "pending"], ["cancel", "5", "--wait", "--timeout", "2"],
                 ["job", "7"], ["operators", "add", "bob", "--admin"], ["logs", "-f", "--job", "3"],
                 ["submit", "f.csv", "--end-date", "2026-01-31"]):
        assert vars(build_parser(argv[0]).parse_args(argv)) == vars(full.parse_args(argv)), argv
    for argv in (["nope"], ["jobs", "-n", "0"], ["-x"]):
        for parser in (build_parser(argv[0]), full):
            with pytest.raises(SystemExit) as refused:
                parser.parse_args(argv)
            assert refused.value.code == 2, argv


def test_importing_the_cli_leaves_the_collector_on_with_its_imports_frozen() -> None:
    """The CLI's imports run without cycle collection and are frozen afterwards; the collector
    must be on again once they are done, and stay off in a process that had turned it off."""
    probe = ("import gc, sys\n"
             "off = sys.argv[1] == 'off'\n"
             "gc.disable() if off else None\n"
             "import console.cli\n"
             "print(gc.isenabled(), gc.get_freeze_count() > 10_000)\n")
    for state, expected in (("on", "True True"), ("off", "False True")):
        out = subprocess.run([sys.executable, "-c", probe, state], cwd=REPO, capture_output=True, text=True,
                             timeout=60)
        assert out.stdout.strip() == expected, out.stderr
