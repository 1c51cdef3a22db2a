"""The `parley` command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from parley.bootstrap import build, freeze_startup_heap, utcnow
from parley.cli_directory import directory_app
from parley.logs import configure_logging
from parley.settings import Settings

if TYPE_CHECKING:
    from parley.store.db import Database

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
    _run(_migrate_quietly(settings, check_server=True))
    host, port = settings.http_host_port
    application = create_app(build(settings), workers=not no_workers)
    structlog.get_logger().info(
        "parley.serving",
        http=f"http://{host}:{port}",
        smtp=settings.smtp or "off",
        smpp=settings.smpp or "off",
        database=make_url(settings.database_url).render_as_string(hide_password=True),
        workers=not no_workers,
    )
    # Open event streams (SSE) never end on their own: after 5 s of a graceful stop uvicorn closes them.
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5)


async def _migrate_quietly(settings: Settings, *, check_server: bool = False) -> None:
    """Bring the schema up to date; a process that runs on (`parley serve`) also says what the server's settings
    mean for it (`parley worker` does so itself)."""
    from parley.store.db import Database
    from parley.store.migrate import upgrade

    db = Database(settings.database_url)
    try:
        await upgrade(db)
        if check_server:
            await _warn_about_the_server(db)
    finally:
        await db.close()


async def _warn_about_the_server(db: Database) -> None:
    """Log what the database server's settings mean for Parley (`store.server_checks`)."""
    from parley.store import server_checks

    for warning in await server_checks.warnings(db):
        structlog.get_logger().warning("database.settings", problem=warning)


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
        await _warn_about_the_server(parley.db)
        await parley.start_workers()
        freeze_startup_heap()
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


app.add_typer(directory_app, name="directory")

campaign_app = typer.Typer(help="Bulk campaigns: create from a CSV or a saved list, start, stop, restart, watch.")
app.add_typer(campaign_app, name="campaign")


async def _cli_user(parley: Any, extension: str | None) -> Any:
    """The user a local command acts as: the one named, else the first administrator."""
    from parley.store import directory

    if extension:
        user = await parley.cache.user(extension)
        if user is None:
            errors.print(f"--user: no user with extension {extension}")
            raise typer.Exit(2)
        return user
    async with parley.db.read() as conn:
        admins = [u for u in await directory.list_users(conn) if u.role == "admin"]
    if not admins:
        errors.print("no administrator in the directory: pass --user")
        raise typer.Exit(2)
    return await parley.cache.user(admins[0].extension)


def _campaign_call(action: Any) -> Any:
    from parley.services.campaigns import CampaignError

    settings = Settings()

    async def main() -> Any:
        await _migrate_quietly(settings)
        parley = build(settings)
        try:
            return await action(parley)
        except CampaignError as exc:
            errors.print(f"{exc.field + ': ' if exc.field else ''}{exc.reason}", markup=False)
            raise typer.Exit(2) from None
        finally:
            await parley.close()

    return _run(main())


def _print_campaign(view: dict[str, Any]) -> None:
    c = view["counters"]
    console.print(
        f"{view['id']}  {view['name']}  [bold]{view['status']}[/bold]  total {c['total']}  pending {c['pending']}  "
        f"queued {c['queued']}  sent {c['sent']}  delivered {c['delivered']}  "
        f"delivered (assumed) {c.get('delivered_assumed', 0)}  failed {c['failed']}  "
        f"skipped {c['skipped']}  invalid {c['invalid']}"
    )


@campaign_app.command("create")
def campaign_create(
    name: Annotated[str, typer.Option(help="The campaign's name")],
    sender: Annotated[str, typer.Option(help="A company number, or a sender name (with --alphanumeric)")],
    message: Annotated[str, typer.Option(help="The text; {column} placeholders come from the CSV or list")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Recipients from this CSV file")] = None,
    list_id: Annotated[int | None, typer.Option("--list", help="Recipients from this saved list")] = None,
    alphanumeric: Annotated[bool, typer.Option(help="The sender is a name, not a number")] = False,
    user: Annotated[str | None, typer.Option(help="Owner extension (default: the first admin)")] = None,
    rating: Annotated[str | None, typer.Option(help="Extension charged for the messages")] = None,
) -> None:
    """Create a draft campaign and load its recipients."""
    if (csv_file is None) == (list_id is None):
        errors.print("give exactly one of --csv FILE or --list ID")
        raise typer.Exit(2)

    async def action(parley: Any) -> None:
        owner = await _cli_user(parley, user)
        spec = {"name": name, "sender_type": "alphanumeric" if alphanumeric else "number", "sender": sender,
                "message": message, "rating_extension": rating, "list_id": list_id}  # fmt: skip
        view = await parley.campaigns.create(owner, spec)
        if csv_file is not None:
            with csv_file.open("rb") as stream:
                report = await parley.campaigns.upload(owner, view["id"], stream)
            console.print(f"loaded {report['added']} recipients; {report['invalid']} invalid rows, "
                          f"{report['duplicates']} duplicates")  # fmt: skip
            for problem in report["problems"][:20]:
                errors.print(f"  line {problem['line']}: {problem['reason']}", markup=False)
            view = await parley.campaigns.get(owner, view["id"])
        _print_campaign(view)

    _campaign_call(action)


def _campaign_action(name: str) -> Any:
    def command(
        campaign_id: Annotated[str, typer.Argument(help="The campaign's id")],
        user: Annotated[str | None, typer.Option(help="Act as this extension (default: the first admin)")] = None,
    ) -> None:
        async def action(parley: Any) -> None:
            actor = await _cli_user(parley, user)
            method = parley.campaigns.stop if name == "stop" else parley.campaigns.start
            _print_campaign(await method(actor, campaign_id))

        _campaign_call(action)

    command.__doc__ = {"start": "Start a draft campaign.", "stop": "Stop a running campaign (queued messages are "
                       "withdrawn).", "restart": "Carry on a stopped campaign."}[name]  # fmt: skip
    return command


for _name in ("start", "stop", "restart"):
    campaign_app.command(_name)(_campaign_action(_name))


@campaign_app.command("status")
def campaign_status(
    campaign_id: Annotated[str | None, typer.Argument(help="A campaign's id (default: list them all)")] = None,
    watch: Annotated[bool, typer.Option(help="A live progress bar until the campaign ends")] = False,
    user: Annotated[str | None, typer.Option(help="Act as this extension (default: the first admin)")] = None,
) -> None:
    """Show campaigns and their counters; --watch follows one to the end."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    async def action(parley: Any) -> None:
        actor = await _cli_user(parley, user)
        if campaign_id is None:
            for view in await parley.campaigns.list_(actor, None):
                _print_campaign(view)
            return
        view = await parley.campaigns.get(actor, campaign_id)
        if not watch:
            _print_campaign(view)
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(view["name"], total=view["counters"]["total"] or 1)
            while True:
                c = view["counters"]
                done = c["sent"] + c["delivered"] + c.get("delivered_assumed", 0) + c["failed"] + c["skipped"]
                progress.update(task, completed=done, description=f"{view['name']} ({view['status']})")
                if view["status"] not in ("running", "scheduled"):
                    break
                await asyncio.sleep(1.0)  # a display refresh, not a wait for a worker
                view = await parley.campaigns.get(actor, campaign_id)
        _print_campaign(view)

    _campaign_call(action)
