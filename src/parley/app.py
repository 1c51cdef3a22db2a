"""The FastAPI application: the APIs, the console and health, around a built `Parley`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from parley import __version__
from parley.bootstrap import Parley, freeze_startup_heap
from parley.ingress import (
    api,
    api_keys_api,
    blocklist_api,
    campaigns_api,
    conversations_api,
    docs_api,
    events_api,
    lists_api,
    media_api,
    metrics_api,
    numbers_api,
    telnyx_webhook,
    twilio_api,
    webhook_endpoints_api,
    webhooks,
    whatsapp_api,
    whatsapp_webhook,
    wildix_api,
)
from parley.ingress.input_guard import InputGuard
from parley.ingress.limits import BodyLimits, limits
from parley.ingress.mail2sms import Mail2SmsHandler, start_smtp
from parley.ingress.smpp_server import SmppServer
from parley.routes import adopt
from parley.services.errors import ServiceError
from parley.settings import split_host_port
from parley.web import console, reply_chat
from parley.web.headers import SecurityHeaders


def create_app(parley: Parley, *, workers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        smtp = None
        if parley.settings.smtp:
            host, port = split_host_port(parley.settings.smtp, 2525)
            smtp = await start_smtp(Mail2SmsHandler(parley.outbox, parley.cache, parley.auth), host, port)
        smpp = None
        if parley.settings.smpp:  # an ingress, like SMTP: in the serving process (docs/architecture.md)
            host, port = split_host_port(parley.settings.smpp, 2777)
            smpp = SmppServer(parley.smpp_applications, host, port)
            await smpp.start()
        if workers:
            await parley.start_workers()
        freeze_startup_heap()
        try:
            yield
        finally:
            if smtp is not None:
                smtp.close()
                await smtp.wait_closed()
            if smpp is not None:
                await smpp.stop()
            await parley.close()

    app = FastAPI(
        title="Parley",
        version=__version__,
        summary="Self-hosted business messaging: SMS over SMPP and HTTP",
        docs_url=None,  # served by ingress/docs_api.py: admins only unless PARLEY_PUBLIC_DOCS=1
        openapi_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # No OpenTelemetry here: skip FastAPI's per-request telemetry check (~5 % of the accept path).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    metrics_api.allowed_networks(parley.settings.metrics_allow)  # a bad PARLEY_METRICS_ALLOW stops the start
    app.state.parley = parley  # what every endpoint reads its services from (app_state.py)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        """A use case said no: 422 names the fields (FastAPI's own shape), other statuses give a reason."""
        if exc.status == 422:
            detail: object = [
                {"loc": ["body", *_path(field)] if field else ["body"], "msg": msg, "type": "value_error"}
                for field, msg in exc.problems()
            ]  # fmt: skip
        else:
            detail = exc.reason
        return JSONResponse(jsonable_encoder({"detail": detail, **exc.extra}), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """A path parameter that cannot be an id (`/lists/2147483648`, `/lists/abc`) names nothing: 404."""
        if any(error["loc"][:1] == ("path",) for error in exc.errors()):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return await request_validation_exception_handler(request, exc)

    # Text no route can store (NUL, lone surrogates) is refused before routing; these two read their own input.
    # The media upload streams its multipart body itself (InputGuard would read a body without a type whole).
    originate = wildix_api.Originate(parley.auth, parley.outbox, parley.cache)
    app.state.originate = originate  # the Wildix route calls it too, when FastPath passes a request on
    app.add_middleware(wildix_api.FastPath, originate=originate)  # innermost: past routing, inside the three below
    app.add_middleware(InputGuard, exempt=("/api/v1/originate/", "/api/v2/webhooks/", "/api/v2/media", "/r/"))
    app.add_middleware(BodyLimits, **limits(parley.settings))  # outside InputGuard, which reads bodies whole
    app.add_middleware(SecurityHeaders)  # outermost: a 413 carries the headers too

    adopt(
        app.router,
        docs_api.router,
        wildix_api.router,
        api.router,
        conversations_api.router,
        events_api.router,
        webhooks.router,
        telnyx_webhook.router,
        whatsapp_webhook.router,
        whatsapp_api.router,
        api_keys_api.router,
        webhook_endpoints_api.router,
        numbers_api.router,
        blocklist_api.router,
        campaigns_api.router,
        lists_api.router,
        metrics_api.router,
        twilio_api.router,
        twilio_api.services_router,
        media_api.router,
        reply_chat.router,  # reads and checks its own input
    )
    console.install(app)

    @app.get("/healthz", tags=["Operations"])
    async def healthz() -> dict[str, object]:
        """Liveness, for load balancers and process supervisors (no details: it needs no credentials)."""
        return {"ok": True}

    return app


def _path(field: str) -> list[str]:
    """A use case's field as a location in the request body: ``template.variables`` → ["template", "variables"];
    a number's settings are the body itself, so ``settings.hours.timezone`` → ["hours", "timezone"]."""
    parts = field.split(".")
    return parts[1:] if parts[0] == "settings" and len(parts) > 1 else parts
