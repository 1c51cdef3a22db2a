"""`parley directory sync`: the LDAP directory sync on demand, with a progress bar and the report per entry."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from parley.bootstrap import build
from parley.services.directory_sync import SyncResult
from parley.settings import Settings
from parley.store.db import Database
from parley.store.migrate import upgrade

directory_app = typer.Typer(help="The user directory from LDAP (the [directory] section of the provisioning file).")
console = Console()
errors = Console(stderr=True)


@directory_app.command("sync")
def sync(
    allow_mass_disable: Annotated[
        bool,
        typer.Option(
            "--allow-mass-disable", help="Apply a sync that disables more than a quarter of the directory's users"
        ),
    ] = False,
    show_unchanged: Annotated[bool, typer.Option("--all", help="List unchanged entries too")] = False,
) -> None:
    """Sync users from the LDAP directory now: created, updated, disabled, skipped (with the reason)."""
    settings = Settings()

    async def main() -> SyncResult:
        db = Database(settings.database_url)
        try:
            await upgrade(db)
        finally:
            await db.close()
        parley = build(settings)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        try:
            with Progress(*columns, console=console, transient=True) as progress:
                tasks: dict[str, TaskID] = {}

                def report(stage: str, done: int, total: int | None) -> None:
                    if stage not in tasks:
                        label = "reading the directory" if stage == "search" else "writing users"
                        tasks[stage] = progress.add_task(label, total=total)
                    progress.update(tasks[stage], completed=done, total=total)

                return await parley.directory.run("cli", progress=report, allow_mass_disable=allow_mass_disable)
        finally:
            await parley.close()

    result = asyncio.run(main())
    shown = [o for o in result.outcomes if show_unchanged or o.outcome != "unchanged"]
    if shown:
        table = Table("outcome", "extension", "entry", "reason")
        for o in shown:
            table.add_row(o.outcome, o.extension or "", o.dn, o.reason)
        console.print(table)
    if result.outcome != "done":
        errors.print(f"directory sync {result.outcome}: {result.reason}", markup=False, highlight=False)
        raise typer.Exit(1)
    console.print(f"directory synced: {result.summary()}", markup=False, highlight=False)
