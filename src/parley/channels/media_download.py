"""Downloading an inbound attachment over HTTP, as every HTTP channel's `MediaSource.fetch_media` does.

What the download's answers and failures mean is the same whoever the provider is: a 408, 425, 429 or 5xx may pass
(retryable), any other status other than 200 will not; a file over the limit is refused as soon as that is known
(its declared length, or the bytes as they arrive), never after reading it all; no answer in time or no connection
is retryable, a redirect loop is not. The channels keep only what differs: the URL, the credentials, and the
words naming what answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from parley.channels.base import MediaUnavailable, MediaWriter


def check_status(status: int, what: str) -> None:
    """Raise unless ``status`` is 200; ``what`` names what answered ("the media host")."""
    if status != 200:
        retryable = status in (408, 425, 429) or status >= 500
        raise MediaUnavailable(f"{what} answered HTTP {status}", retryable=retryable)


async def copy_limited(response: httpx.Response, write: MediaWriter, *, max_bytes: int, too_big: str) -> None:
    """Stream the body to ``write``; `MediaUnavailable` (not retryable, reason ``too_big``) past ``max_bytes``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and (len(declared) > 18 or int(declared) > max_bytes):
        raise MediaUnavailable(too_big, retryable=False)
    received = 0
    async for chunk in response.aiter_bytes():  # decoded: the limit counts what is stored
        received += len(chunk)
        if received > max_bytes:
            raise MediaUnavailable(too_big, retryable=False)
        await write(chunk)


@asynccontextmanager
async def download_errors(what: str, *, timeout: float) -> AsyncIterator[None]:
    """Bound the whole download by ``timeout`` and turn transport failures into `MediaUnavailable`."""
    try:
        async with asyncio.timeout(timeout):
            yield
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise MediaUnavailable(f"{what} did not answer in time", retryable=True) from exc
    except httpx.TooManyRedirects as exc:
        raise MediaUnavailable(f"{what} redirects too many times", retryable=False) from exc
    except httpx.RequestError as exc:
        raise MediaUnavailable(f"{what} cannot be reached: {type(exc).__name__}", retryable=True) from exc
