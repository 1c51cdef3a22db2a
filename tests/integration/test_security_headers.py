"""Browser security headers on every response, and templates that the console's policy lets run (issue 10)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parley.web.templating import STATIC
from tests.support.app import ALICE, in_process

TEMPLATES = Path(STATIC).parent / "templates"


async def test_every_response_carries_the_browser_security_headers(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client() as client:
        for path in ("/login", "/healthz", "/api/v2/messages", "/static/console.js"):
            response = await client.get(path)
            assert response.headers["x-frame-options"] == "DENY", path
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["referrer-policy"] == "same-origin", path
            policy = response.headers["content-security-policy"]
            assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, path
            assert "unsafe" not in policy
            assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS
        too_large = await client.post("/api/v2/messages", content=b"x" * (2 * 1024 * 1024))
        assert too_large.status_code == 413
        assert too_large.headers["x-content-type-options"] == "nosniff"


async def test_hsts_is_sent_over_tls_and_behind_a_proxy_that_says_so(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client() as client:
        proxied = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert proxied.headers["strict-transport-security"] == "max-age=31536000"
        direct = await client.get("https://parley.test/login")
        assert direct.headers["strict-transport-security"] == "max-age=31536000"
        assert (
            "strict-transport-security"
            not in (await client.get("/login", headers={"X-Forwarded-Proto": "http"})).headers
        )


async def test_the_api_documentation_page_keeps_its_cdn_script_but_cannot_be_framed(tmp_path: Path) -> None:
    async with in_process(tmp_path) as app, app.client(ALICE) as client:
        docs = await client.get("/api/v1/doc")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert docs.headers["x-frame-options"] == "DENY"


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style", re.IGNORECASE),
    "hx-on (eval)": re.compile(r"\bhx-on"),
    "js: values (eval)": re.compile(r"""['"]\s*(js|javascript):"""),
    "hx-trigger filter (eval)": re.compile(r"""hx-trigger="[^"]*\["""),
}


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_nothing_the_content_security_policy_would_block(template: Path) -> None:
    text = template.read_text()
    found = {what: pattern.findall(text) for what, pattern in INLINE.items()}
    assert {what: hits for what, hits in found.items() if hits} == {}
