"""Console tests: a real `parley serve` (with its workers and an SMSC simulator) driven by headless Chromium.

Chromium is Debian's (`/usr/bin/chromium`, installed by `.ci/run`); Playwright never downloads a browser.

Each pytest process starts one Playwright driver and one Chromium and shares them between its console tests:
starting both cost about a CPU-second per test, on a two-core machine that also runs the servers under test.
Each test still gets fresh browser contexts (cookies, storage, cache and the CSP reporter are per context), and
the contexts a test leaves open are closed after it. Playwright's objects belong to the event loop that made
them, so these tests run in pytest-asyncio's session loop (the hook below), and so must every async fixture
they use: declare one with `@pytest_asyncio.fixture(loop_scope="session")`.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, BrowserType, Page, async_playwright, expect
from pytest_asyncio import is_async_test

from tests.support.provisioning import document
from tests.support.server import ParleyServer, wait_until
from tests.support.smsc import SmscSimulator

CHROMIUM = os.environ.get("PARLEY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ALICE, BOB = ("101", "sms101api"), ("102", "bob-secret")
SUPPORT, CUSTOMER = "+15551230001", "+15557654321"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# A CI machine with two cores runs servers, an SMSC and Chromium at once: give assertions time to come true
# (they return as soon as they do; a wrong page still fails, just later).
expect.set_options(timeout=15_000)


def console_provisioning(smsc_port: int) -> dict[str, Any]:
    doc = document()
    # Bob is the agent of these tests: on a business license, so that he joins Support's conversations.
    doc["users"] = [{**u, "license": "business"} if u["extension"] == "102" else u for u in doc["users"]]
    doc["transports"] = [
        {"name": "carrier", "role": "carrier", "kind": "smpp", "host": "127.0.0.1", "port": smsc_port,
         "system_id": "parley", "password": "secret"},
    ]  # fmt: skip
    return doc


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the async console tests in the session's event loop, where the shared browser lives (pytest-asyncio's
    documented way: an asyncio mark with loop_scope="session" put before the one auto mode added)."""
    here = Path(__file__).parent
    for item in items:
        if isinstance(item, pytest.Function) and item.path.is_relative_to(here) and is_async_test(item):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)
            if stray := _fixtures_in_a_loop_of_their_own(item):
                raise pytest.UsageError(f"{item.nodeid} uses {stray}: declare them with {SESSION_LOOP_FIXTURE}")


SESSION_LOOP_FIXTURE = '@pytest_asyncio.fixture(loop_scope="session")'


def _fixtures_in_a_loop_of_their_own(item: pytest.Function) -> list[str]:
    """The async fixtures of ``item`` that pytest-asyncio would run in another loop than the test's: one that is
    asleep while the test runs, so a server such a fixture starts would not answer (the test would only time out).
    Reads pytest's and pytest-asyncio's private attributes: neither has a public way to ask."""
    return [
        name
        for name, (*_, fixturedef) in item._fixtureinfo.name2fixturedefs.items()
        if (inspect.iscoroutinefunction(fixturedef.func) or inspect.isasyncgenfunction(fixturedef.func))
        and getattr(fixturedef.func, "_loop_scope", None) != "session"
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def smsc() -> AsyncIterator[SmscSimulator]:
    async with SmscSimulator(port=0, system_id="parley", password="secret") as simulator:
        yield simulator


@pytest_asyncio.fixture(loop_scope="session")
async def console(tmp_path: Path, smsc: SmscSimulator) -> AsyncIterator[ParleyServer]:
    """`parley serve` with workers, the test users (101 admin, 102 agent, 103 basic) and a bound carrier."""
    server = ParleyServer(tmp_path)
    server.apply(console_provisioning(smsc.port))
    await server.start()
    try:
        await smsc.wait_for(lambda: smsc.bound_sessions >= 1, timeout=20)
        yield server
    finally:
        await server.close()


async def launch(chromium: BrowserType) -> Browser:
    return await chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_browser() -> AsyncIterator[list[Browser]]:
    """This pytest process's one Playwright driver and Chromium, in a list so that `browser` can replace it."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    async with async_playwright() as playwright:
        shared = [await launch(playwright.chromium)]
        yield shared
        await shared[0].close()


@pytest_asyncio.fixture(loop_scope="session")
async def browser(shared_browser: list[Browser]) -> AsyncIterator[Browser]:
    """The shared Chromium, with no context open: every context a test opens is new (no cookies, no storage)
    and is closed after the test, even one the test forgot to close."""
    if not shared_browser[0].is_connected():  # it crashed in an earlier test (which failed): start another
        shared_browser[0] = await launch(shared_browser[0].browser_type)
    yield shared_browser[0]
    for context in shared_browser[0].contexts:
        await context.close()


# Every page of every console test reports what the Content-Security-Policy blocked: nothing may be.
CSP_REPORTER = """document.addEventListener("securitypolicyviolation", (e) => window.parleyCspViolation(
    `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile || document.URL}:`
    + e.lineNumber));"""


@pytest.fixture
def csp_violations() -> list[str]:
    return []


@asynccontextmanager
async def csp_checked(browser: Browser, csp_violations: list[str], **options: Any) -> AsyncIterator[BrowserContext]:
    """A browser context (``options`` as `Browser.new_context` takes them) whose pages report every
    Content-Security-Policy violation into ``csp_violations``."""
    context = await browser.new_context(**options)
    context.set_default_timeout(15_000)

    def report(violation: str) -> None:
        csp_violations.append(violation)

    await context.expose_function("parleyCspViolation", report)
    await context.add_init_script(CSP_REPORTER)
    try:
        yield context
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser, csp_violations: list[str]) -> AsyncIterator[BrowserContext]:
    async with csp_checked(browser, csp_violations, viewport={"width": 1280, "height": 800}) as context:
        yield context
    assert csp_violations == [], "the console did something its Content-Security-Policy blocks"


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def sign_in(page: Page, server: ParleyServer, who: tuple[str, str] = ALICE, path: str = "/") -> None:
    """Sign in through the form, landing on ``path``."""
    await page.goto(f"{server.url}/login?next={path}")
    await page.get_by_label("Extension").fill(who[0])
    await page.get_by_label("Password").fill(who[1])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    # A page hears live events once its stream is open: an event sent before that would be missed. (Polled from
    # here: wait_for_function evaluates strings in the page, which the console's policy forbids.)
    stream_open = "() => !document.body.dataset.live || (!!window.parleyLive && window.parleyLive.readyState === 1)"
    await wait_until(lambda: page.evaluate(stream_open), timeout=15)


async def screenshot(page: Page, name: str) -> None:
    """Refresh README's picture docs/screenshots/NAME.png — only when PARLEY_SCREENSHOTS=1 (tests leave the tree
    clean otherwise): `PARLEY_SCREENSHOTS=1 .venv/bin/pytest tests/web`."""
    if os.environ.get("PARLEY_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
