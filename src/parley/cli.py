"""The `parley` command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from parley.bootstrap import build, utcnow
from parley.logs import configure_logging
from parley.settings import Settings

app = typer.Typer(help="Parley: self-hosted business messaging (SMS over SMPP and HTTP).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _run(coro: Any) -> Any:
    """Run on uvloop when it is there (it comes with uvicorn[standard]), as `parley serve` does."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(coro)
    return uvloop.run(coro)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from parley.store.db import Database
    from parley.store.migrate import upgrade

    async def main() -> None:
        db = Database(Settings().database_url)
        try:
            await upgrade(db)
        finally:
            await db.close()

    _run(main())
    console.print("database is up to date")


@app.command()
def serve(
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="Serve the API only; run `parley worker` elsewhere")
    ] = False,
    http: Annotated[str | None, typer.Option(help="host:port (default PARLEY_HTTP or 127.0.0.1:8080)")] = None,
) -> None:
    """Serve the APIs (and, unless --no-workers, run the dispatcher in the same process)."""
    import uvicorn

    from parley.app import create_app

    settings = Settings()
    if http:
        settings.http = http
    configure_logging(settings.log_level)
    _run(_migrate_quietly(settings))
    host, port = settings.http_host_port
    application = create_app(build(settings), workers=not no_workers)
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


async def _migrate_quietly(settings: Settings) -> None:
    from parley.store.db import Database
    from parley.store.migrate import upgrade

    db = Database(settings.database_url)
    try:
        await upgrade(db)
    finally:
        await db.close()


@app.command()
def worker() -> None:
    """Run the dispatcher (and other background work) without serving HTTP."""
    settings = Settings()
    configure_logging(settings.log_level)

    async def main() -> None:
        parley = build(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await parley.start_workers()
        errors.print("parley worker running; Ctrl-C stops it")
        try:
            await stop.wait()
        finally:
            await parley.close()

    _run(main())


@app.command()
def apply(
    file: Annotated[Path, typer.Argument(help="A provisioning file shaped like contracts/parley.example.toml")],
    prune: Annotated[
        bool, typer.Option(help="Also remove users, services, numbers, transports, prices not in FILE")
    ] = False,
) -> None:
    """Provision from a TOML file: idempotent, all or nothing."""
    from parley.core.provisioning import ProvisioningError
    from parley.services.provisioning import apply as apply_spec
    from parley.services.provisioning import read_file

    try:
        spec = read_file(file)
    except ProvisioningError as exc:
        errors.print(f"[red]{file} was not applied; fix these problems:[/red]")
        for problem in exc.problems:
            errors.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    settings = Settings()

    async def main() -> str:
        await _migrate_quietly(settings)
        parley = build(settings)
        try:
            report = await apply_spec(parley.db, spec, now=utcnow(), prune=prune)
        finally:
            await parley.close()
        return report.summary()

    console.print(f"applied {file}: {_run(main())}")


@app.command()
def send(
    sender: Annotated[str, typer.Option("--from", help="The sending user's extension")],
    to: Annotated[list[str], typer.Option("--to", help="Destination (repeat for several)")],
    message: Annotated[str, typer.Argument(help="The text")],
    gsm: Annotated[str | None, typer.Option(help="GSM gateway id")] = None,
) -> None:
    """Queue an SMS as a user (local administration: no password asked)."""
    from parley.core.outbound import OutboundError
    from parley.services.send import SendSms

    settings = Settings()

    async def main() -> int:
        await _migrate_quietly(settings)
        parley = build(settings)
        try:
            user = await parley.cache.user(sender)
            if user is None:
                errors.print(f"--from: no user with extension {sender}")
                return 2
            try:
                result = await parley.outbox.send(
                    SendSms(user=user, destinations=to, text=message, gsm=gsm, source="cli")
                )
            except OutboundError as exc:
                errors.print(f"{exc.field}: {exc.reason}", markup=False)
                return 2
            for row in result.messages:
                console.print(
                    f"queued {row['id']} to {row['recipient']} ({row['segments']} segment(s), {row['encoding']})"
                )
            for refusal in result.refused:
                errors.print(f"not queued {refusal.given}: {refusal.reason}", markup=False)
            return 0
        finally:
            await parley.close()

    raise typer.Exit(_run(main()))


@app.command()
def messages(
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    to: Annotated[str | None, typer.Option(help="Only to this number")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """List recent messages, newest first."""
    from parley.ingress.api import message_out
    from parley.store.messages import MessageFilter

    settings = Settings()

    async def main() -> list[Any]:
        await _migrate_quietly(settings)
        parley = build(settings)
        try:
            return await parley.queries.list_(MessageFilter(status=status, to=to, limit=limit))
        finally:
            await parley.close()

    rows = _run(main())
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(message_out(row).model_dump(mode="json", by_alias=True)) + "\n")
        return
    table = Table("id", "created", "dir", "from", "to", "status", "seg", "transport", "text / error")
    for row in rows:
        table.add_row(
            row.id,
            row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.direction,
            row.sender,
            row.recipient,
            row.status,
            str(row.segments),
            row.transport or "",
            (row.error or row.body)[:40],
        )
    console.print(table)


@app.command()
def smsc(
    port: Annotated[int, typer.Option(help="TCP port to listen on")] = 2775,
    delay: Annotated[float, typer.Option(help="Seconds before each submit_sm_resp")] = 0.0,
) -> None:
    """Run the SMSC simulator (an SMPP 3.4 peer that acknowledges and sends delivery receipts)."""
    from parley.testing.smsc import main as smsc_main

    smsc_main(["--port", str(port), "--delay", str(delay)])
