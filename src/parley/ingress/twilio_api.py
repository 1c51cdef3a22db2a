"""The Twilio-compatible Messages API (issue 13 §3): `/2010-04-01/Accounts/{AccountSid}/Messages…`.

Code written for Twilio works by changing only the base URL and the credentials: an API key's SID and secret
(HTTP Basic ``SK…:secret``, or ``Authorization: Bearer``) and the installation's account SID. These routes are not
under /api/v2, so `core.api_keys.ROUTE_SCOPES` does not reach them: each checks its own scope (``send`` to create,
cancel and delete; ``read`` to list and fetch). Every refusal is Twilio's error shape
``{"code", "message", "more_info", "status"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from parley.app_state import ParleyDep
from parley.core.twilio_format import API_VERSION, error_body
from parley.ingress.api_auth import CurrentUser, KeyScopeMissing, key_caller
from parley.services.api_keys import KeyCaller, KeyExpired
from parley.services.throttle import Throttled
from parley.services.twilio_messages import CreateMessage, ListMessages, TwilioError, TwilioMessages, not_found

PREFIX = f"/{API_VERSION}/Accounts/{{account_sid}}"
_AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="Twilio API"'}


def twilio_error(exc: TwilioError) -> JSONResponse:
    headers = _AUTHENTICATE if exc.status == 401 else exc.headers
    return JSONResponse(error_body(exc.code, exc.message, exc.status), status_code=exc.status, headers=headers)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return _plus(value) if isinstance(value, str) else ""


def _plus(value: str) -> str:
    """A ``+`` sent unencoded in a form arrives as a space: `` 15551234567`` is ``+15551234567``."""
    return "+" + value[1:] if value[:1] == " " and value[1:2].isdigit() else value


services_router = APIRouter(prefix="/api/v2", tags=["Twilio-compatible Messages API"])
"""`GET /api/v2/services`: the caller's services with their Messaging Service SIDs (``MG…``)."""


@services_router.get("/services")
async def list_services(user: CurrentUser, parley: ParleyDep) -> list[dict[str, object]]:
    """The services the caller may send for (an administrator: every one), each with `name`, `sms_number` and
    `messaging_service_sid`, the `MessagingServiceSid` that sends from its number."""
    return await parley.twilio_messages.services(user)


async def _authorised(request: Request, account_sid: str, scope: str, messages: TwilioMessages) -> KeyCaller:
    try:
        caller = await key_caller(request, scope)
    except Throttled as exc:
        retry = {"Retry-After": str(exc.retry_after)}
        raise TwilioError(20429, "Too Many Requests: too many wrong credentials", 429, retry) from None
    except KeyExpired:
        raise TwilioError(20003, "Authenticate: the API key has expired", 401) from None
    except KeyScopeMissing as exc:
        raise TwilioError(20403, f"Permission denied: {exc}", 403) from None
    if caller is None:
        raise TwilioError(20003, "Authenticate", 401)
    if account_sid != await messages.account_sid():
        raise not_found(f"The requested resource /{API_VERSION}/Accounts/{account_sid} was not found")
    return caller


async def _answer(work: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await work()
    except TwilioError as exc:
        return twilio_error(exc)


router = APIRouter(prefix=PREFIX, tags=["Twilio-compatible Messages API"])


@router.post("/Messages.json", status_code=201)
async def create_message(request: Request, account_sid: str, parley: ParleyDep) -> Response:
    """Send a message (form fields `To`, `From` or `MessagingServiceSid`, `Body`, `MediaUrl`…)."""

    async def work() -> Response:
        caller = await _authorised(request, account_sid, "send", parley.twilio_messages)
        form = await request.form()
        urls = [u for u in form.getlist("MediaUrl") if isinstance(u, str)]
        created = await parley.twilio_messages.create(
            caller,
            CreateMessage(
                to=_field(form, "To"), from_=_field(form, "From"), body=_field(form, "Body"), media_urls=urls,
                status_callback=_field(form, "StatusCallback"),
                messaging_service_sid=_field(form, "MessagingServiceSid"),
                schedule_type=_field(form, "ScheduleType"), send_at=_field(form, "SendAt"),
            ),
        )  # fmt: skip
        return JSONResponse(created, status_code=201)

    return await _answer(work)


@router.get("/Messages.json")
async def list_messages(request: Request, account_sid: str, parley: ParleyDep) -> Response:
    """Messages, newest first, filtered by `To`, `From`, `DateSent` (`DateSent<`, `DateSent>`), in pages."""

    async def work() -> Response:
        caller = await _authorised(request, account_sid, "read", parley.twilio_messages)
        q = request.query_params
        page = await parley.twilio_messages.list_(
            caller.user,
            ListMessages(
                to=_plus(q.get("To", "")), from_=_plus(q.get("From", "")), date_sent=q.get("DateSent"),
                date_sent_before=q.get("DateSent<"), date_sent_after=q.get("DateSent>"),
                page_size=q.get("PageSize"), page=q.get("Page"), page_token=q.get("PageToken"),
            ),
        )  # fmt: skip
        return JSONResponse(page)

    return await _answer(work)


@router.get("/Messages/{sid}.json")
async def fetch_message(request: Request, account_sid: str, sid: str, parley: ParleyDep) -> Response:
    """One message."""

    async def work() -> Response:
        caller = await _authorised(request, account_sid, "read", parley.twilio_messages)
        return JSONResponse(await parley.twilio_messages.fetch(caller.user, sid))

    return await _answer(work)


@router.post("/Messages/{sid}.json")
async def update_message(request: Request, account_sid: str, sid: str, parley: ParleyDep) -> Response:
    """`Status=canceled` cancels a scheduled message."""

    async def work() -> Response:
        caller = await _authorised(request, account_sid, "send", parley.twilio_messages)
        form = await request.form()
        status = form.get("Status")
        body = form.get("Body")
        updated = await parley.twilio_messages.update(
            caller.user,
            sid,
            status=status if isinstance(status, str) else None,
            body=body if isinstance(body, str) else None,
        )
        return JSONResponse(updated)

    return await _answer(work)


@router.delete("/Messages/{sid}.json", status_code=204)
async def delete_message(request: Request, account_sid: str, sid: str, parley: ParleyDep) -> Response:
    """Delete a message that is done (or canceled)."""

    async def work() -> Response:
        caller = await _authorised(request, account_sid, "send", parley.twilio_messages)
        await parley.twilio_messages.delete(caller.user, sid)
        return Response(status_code=204)

    return await _answer(work)


@router.api_route("/{rest:path}", methods=["GET", "POST", "DELETE"], include_in_schema=False)
async def elsewhere(request: Request, account_sid: str, rest: str, parley: ParleyDep) -> Response:
    """Anything else under the account (Media, Feedback, Calls …) is not here: 20404 in Twilio's shape."""

    async def work() -> Response:
        await _authorised(request, account_sid, "read", parley.twilio_messages)
        raise not_found(f"The requested resource {request.url.path} was not found")

    return await _answer(work)
