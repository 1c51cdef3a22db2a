"""The `parley` command as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.provisioning import document
from tests.support.server import ParleyServer

ROOT = Path(__file__).resolve().parents[2]


def test_python_dash_m_parley_is_the_command_line() -> None:
    """The other tests fork Parley's processes from a forkserver (tests/support/launcher.py); this one starts
    `python -m parley` as a user does (the installed `parley` script: tests/e2e/test_deploy_files.py)."""
    done = subprocess.run([sys.executable, "-m", "parley", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "worker" in done.stdout


def test_the_quickstart_and_example_files_apply_and_applying_again_changes_nothing(tmp_path: Path) -> None:
    cli = ParleyServer(tmp_path)
    for name in ("quickstart.toml", "parley.example.toml"):
        shutil.copy(ROOT / "docs" / name, tmp_path / name)
    first = cli.parley("apply", "quickstart.toml")
    assert "users created: 2" in first.stdout
    assert "nothing changed" in cli.parley("apply", "quickstart.toml").stdout
    full = cli.parley("apply", "parley.example.toml")
    assert "transports created: 2" in full.stdout


def test_the_docs_example_is_the_contract_example(tmp_path: Path) -> None:
    contract = ROOT.parent / "shared" / "contracts" / "parley.example.toml"
    if contract.exists():
        assert (ROOT / "docs" / "parley.example.toml").read_text() == contract.read_text()


def test_a_wrong_file_is_refused_with_every_problem_named_and_nothing_applied(tmp_path: Path) -> None:
    cli = ParleyServer(tmp_path)
    doc = document()
    doc["users"][1]["license"] = "gold"
    doc["numbers"][0]["linked_service"] = "Sales"
    (tmp_path / "bad.toml").write_text(_toml(doc))
    result = cli.parley("apply", "bad.toml", check=False)
    assert result.returncode == 2
    assert 'users[1].license: "gold" is not one of basic, essential, business, premium' in result.stderr
    assert 'numbers[0].linked_service: "Sales" is not a service in this file' in result.stderr
    listed = cli.parley("messages", "--json")
    assert listed.stdout == ""


def test_send_queues_as_a_user_and_messages_lists_it_as_json(tmp_path: Path) -> None:
    cli = ParleyServer(tmp_path)
    cli.apply(document())
    sent = cli.parley("send", "--from", "101", "--to", "+15551234567", "--to", "+447700900123", "Hello from the CLI")
    assert sent.stdout.count("queued ") == 2
    rows = [json.loads(line) for line in cli.parley("messages", "--json").stdout.splitlines()]
    assert sorted(r["to"] for r in rows) == ["+15551234567", "+447700900123"]
    assert {r["source"] for r in rows} == {"cli"}
    table = cli.parley("messages").stdout
    assert "+447700900123" in table and "queued" in table


def test_send_names_the_problem_when_it_cannot_send(tmp_path: Path) -> None:
    cli = ParleyServer(tmp_path)
    cli.apply(document())
    result = cli.parley("send", "--from", "102", "--to", "+15551234567", "x", check=False)
    assert result.returncode == 2
    assert "office number" in result.stderr
    unknown = cli.parley("send", "--from", "999", "--to", "+15551234567", "x", check=False)
    assert unknown.returncode == 2 and "no user with extension 999" in unknown.stderr


def _toml(doc: dict[str, object]) -> str:
    from tests.support.server import to_toml

    return to_toml(doc)  # type: ignore[arg-type]


def test_a_campaign_is_created_from_a_csv_started_stopped_and_shown_from_the_cli(tmp_path: Path) -> None:
    cli = ParleyServer(tmp_path)
    cli.apply(document())
    (tmp_path / "people.csv").write_text("number,first_name\n+15550000001,Ada\n+15550000002,Bob\nnope,Bad\n")
    created = cli.parley(
        "campaign", "create", "--name", "Spring", "--sender", "+15551230001", "--message", "Hi {first_name}",
        "--csv", "people.csv",
    )  # fmt: skip
    assert "loaded 2 recipients; 1 invalid rows" in created.stdout
    assert "line 4:" in created.stderr
    campaign_id = created.stdout.strip().splitlines()[-1].split()[0]
    started = cli.parley("campaign", "start", campaign_id)
    assert "running" in started.stdout
    stopped = cli.parley("campaign", "stop", campaign_id)
    assert "stopped" in stopped.stdout
    again = cli.parley("campaign", "stop", campaign_id, check=False)
    assert again.returncode == 2 and "can be stopped" in again.stderr
    assert campaign_id in cli.parley("campaign", "status").stdout


async def test_serve_prints_only_parleys_own_start_up_lines_at_info(tmp_path: Path) -> None:
    server = ParleyServer(tmp_path, extra_env={"PARLEY_LOG_LEVEL": "info", "PARLEY_SMTP": ""})
    await server.start()
    await server.close()
    log = server.log.read_text()
    assert "parley.serving" in log
    assert f"http=http://127.0.0.1:{server.port}" in log
    assert "setup plugin" not in log and "alembic" not in log
