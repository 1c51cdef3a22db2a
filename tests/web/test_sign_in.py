"""Signing in and out of the console in a real browser: cookie flags, CSRF, throttling, the way back."""

from __future__ import annotations

import httpx
from playwright.async_api import BrowserContext, Page, expect

from tests.support.server import ParleyServer
from tests.web.conftest import ALICE, BOB, sign_in


async def test_sign_in_sets_an_httponly_lax_cookie_and_returns_to_the_page_asked_for(
    console: ParleyServer, page: Page, context: BrowserContext
) -> None:
    await page.goto(f"{console.url}/inbox?filter=mine")
    await expect(page).to_have_url(f"{console.url}/login?next=/inbox%3Ffilter%3Dmine")
    await page.get_by_label("Extension").fill(ALICE[0])
    await page.get_by_label("Password").fill(ALICE[1])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{console.url}/inbox?filter=mine")
    cookie = next(c for c in await context.cookies() if c["name"] == "parley_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain HTTP here; Secure is set when served over TLS


async def test_wrong_password_is_shown_next_to_the_field_and_then_slowed_down(
    console: ParleyServer, page: Page
) -> None:
    await page.goto(f"{console.url}/login")
    for _ in range(3):
        await page.get_by_label("Extension").fill(BOB[0])
        await page.get_by_label("Password").fill("wrong")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#e-password")).to_have_text("wrong extension or password")
    # The fourth try, even with the right password, must wait.
    await page.get_by_label("Password").fill(BOB[1])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#e-password")).to_contain_text("too many wrong passwords: try again in")
    assert "/login" in page.url


async def test_sign_out_ends_the_session_everywhere(console: ParleyServer, page: Page, context: BrowserContext) -> None:
    await sign_in(page, console, BOB)
    token = next(c["value"] for c in await context.cookies() if c["name"] == "parley_session")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{console.url}/login")
    # The old cookie is dead on the server, not only forgotten by this browser.
    async with httpx.AsyncClient(base_url=console.url, cookies={"parley_session": token}) as client:
        response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_a_post_without_the_csrf_token_is_refused(
    console: ParleyServer, page: Page, context: BrowserContext
) -> None:
    await sign_in(page, console, BOB)
    token = next(c["value"] for c in await context.cookies() if c["name"] == "parley_session")
    async with httpx.AsyncClient(base_url=console.url, cookies={"parley_session": token}) as client:
        response = await client.post("/logout", data={})
        assert response.status_code == 403
        assert "security token" in response.text
        # ... and the session still works: the refused request changed nothing.
        still = await client.get("/", follow_redirects=False)
        assert still.headers["location"] == "/inbox"


async def test_a_login_form_from_another_site_is_refused(console: ParleyServer) -> None:
    async with httpx.AsyncClient(base_url=console.url) as client:
        response = await client.post("/login", data={"extension": ALICE[0], "password": ALICE[1], "csrf": "forged"})
    assert response.status_code == 403
    assert "parley_session" not in response.cookies


async def test_the_event_stream_accepts_the_session_cookie(
    console: ParleyServer, page: Page, context: BrowserContext
) -> None:
    await sign_in(page, console, BOB)
    token = next(c["value"] for c in await context.cookies() if c["name"] == "parley_session")
    async with (
        httpx.AsyncClient(base_url=console.url, cookies={"parley_session": token}) as client,
        client.stream("GET", "/api/v2/events") as stream,
    ):
        assert stream.status_code == 200
    async with httpx.AsyncClient(base_url=console.url, cookies={"parley_session": token}) as client:
        # Writes through the API still need Basic credentials: a cookie alone cannot send.
        response = await client.post("/api/v2/messages", json={"to": ["+15557654321"], "text": "hi"})
    assert response.status_code == 401


async def test_sign_in_works_from_the_keyboard_alone(console: ParleyServer, page: Page) -> None:
    await page.goto(f"{console.url}/login")
    await page.keyboard.type(ALICE[0])  # the extension field has the focus on arrival
    await page.keyboard.press("Tab")
    await page.keyboard.type(ALICE[1])
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{console.url}/inbox")
    # The first Tab on a page reaches "Skip to content", which jumps past the navigation.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
