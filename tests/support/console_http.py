"""Signing in to the console over plain HTTP (no browser), for tests of what the console's routes allow."""

from __future__ import annotations

import re

import httpx


async def sign_in(http: httpx.AsyncClient, who: tuple[str, str]) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    form = (await http.get("/login")).text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    answer = await http.post("/login", data={"extension": who[0], "password": who[1], "csrf": token.group(1)})
    assert answer.status_code == 303, answer.text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', (await http.get("/inbox")).text)
    assert csrf is not None
    return csrf.group(1)
