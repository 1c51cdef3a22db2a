"""The composition root: every long-lived object is built here, and only here."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from parley.channels.base import Channel, Inbound, Receipt
from parley.channels.curl import CurlChannel
from parley.channels.smpp import SmppChannel
from parley.channels.telnyx import TelnyxChannel
from parley.channels.twilio import TwilioChannel
from parley.channels.whatsapp import WhatsAppChannel
from parley.clock import OffsetClock
from parley.clock import utcnow as utcnow  # re-exported: the CLI and tests read the clock from here
from parley.core.delivery import RetryPolicy
from parley.ingress.api import message_out
from parley.logs import Failures
from parley.services.admin import Admin
from parley.services.api_keys import ApiKeys
from parley.services.auth import Authenticator
from parley.services.blocklists import Blocklist
from parley.services.campaign_runner import CampaignRunner
from parley.services.campaigns import Campaigns
from parley.services.carrier_accounts import CarrierAccounts
from parley.services.conversations import Conversations
from parley.services.delivery import Deliveries
from parley.services.directory import DirectoryCache, WhatsAppNumber
from parley.services.directory_sync import DirectorySync
from parley.services.events import EventBus, postgres_dsn
from parley.services.inbound import InboundRouter
from parley.services.inbox_view import InboxView
from parley.services.ldap_server import Ldap3Server
from parley.services.lists import Lists
from parley.services.media import MediaStore
from parley.services.media_fetch import MediaEvents, MediaFetcher
from parley.services.notifications import MessageDetails, StatusNotifier
from parley.services.numbers import Numbers
from parley.services.queries import Messages
from parley.services.receive import Inbox
from parley.services.reply_links import LinkMaker, ReplyLinks
from parley.services.secret_box import SecretBox
from parley.services.send import Outbox
from parley.services.sessions import Sessions
from parley.services.smpp_applications import SmppApplications, SmppInbound
from parley.services.statistics import Statistics
from parley.services.throttle import Throttle
from parley.services.timers import Timers
from parley.services.transports import Transports
from parley.services.twilio_messages import TwilioMessages
from parley.services.webhook_endpoints import WebhookEndpoints
from parley.services.webhook_outbox import EndpointCache, WebhookOutbox
from parley.services.webhook_sender import WebhookSender
from parley.services.whatsapp_read import WhatsAppReads
from parley.services.whatsapp_sends import WhatsAppSends
from parley.services.whatsapp_templates import SYNC_EVERY, WhatsAppTemplates
from parley.settings import Settings
from parley.store.db import Database, worker_name
from parley.waiting import woken
from parley.workers.dispatcher import Dispatcher
from parley.workers.router import RouterWorker
from parley.workers.whatsapp_reader import WhatsAppReader

log = structlog.get_logger()
DIRECTORY_LOOK_EVERY = 30.0  # seconds between looks at whether the directory's interval has passed
failures = Failures(log)  # a failure that repeats in a loop: its traceback once, then counts


@dataclass
class Parley:
    settings: Settings
    db: Database
    cache: DirectoryCache
    auth: Authenticator
    outbox: Outbox
    inbox: Inbox
    deliveries: Deliveries
    transports: Transports
    dispatcher: Dispatcher
    queries: Messages
    bus: EventBus
    conversations: Conversations
    router: RouterWorker
    timers: Timers
    numbers: Numbers
    blocklist: Blocklist
    campaigns: Campaigns
    lists: Lists
    campaign_runner: CampaignRunner
    sessions: Sessions
    admin: Admin
    statistics: Statistics
    inbox_view: InboxView
    carrier_accounts: CarrierAccounts
    twilio_messages: TwilioMessages
    media: MediaStore
    media_fetcher: MediaFetcher
    whatsapp_templates: WhatsAppTemplates
    whatsapp_reads: WhatsAppReads
    api_keys: ApiKeys
    reply_links: ReplyLinks
    directory: DirectorySync
    smpp_applications: SmppApplications
    webhooks: WebhookEndpoints
    webhook_sender: WebhookSender
    campaign_wake: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start_workers(self) -> None:
        await self.transports.start()
        self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="dispatcher"))
        self._tasks.append(asyncio.create_task(self.router.run(), name="inbound-router"))
        self._tasks.append(asyncio.create_task(self._fire_timers(), name="scheduler"))
        self._tasks.append(asyncio.create_task(self._run_campaigns(), name="campaigns"))
        self._tasks.append(asyncio.create_task(self._maintain(), name="maintenance"))
        await self.media.load_key()  # signed media URLs are made by the dispatcher
        self._tasks.append(asyncio.create_task(self.media_fetcher.run(), name="media-fetcher"))
        self._tasks.append(asyncio.create_task(self._sync_templates(), name="whatsapp-templates"))
        reader = WhatsAppReader(self.whatsapp_reads)
        self._tasks.append(asyncio.create_task(reader.run(), name="whatsapp-reads"))
        self._tasks.append(asyncio.create_task(self.webhook_sender.run(), name="webhooks"))
        self._tasks.append(asyncio.create_task(self._sync_directory(), name="directory-sync"))

    async def _sync_directory(self) -> None:
        """The LDAP directory on its `interval`: every worker looks; the lease lets one of them sync."""
        while True:
            try:
                await self.directory.run_if_due()
            except Exception:
                failures.exception("directory.sync_failed")
            await asyncio.sleep(DIRECTORY_LOOK_EVERY)

    async def _sync_templates(self) -> None:
        """WhatsApp templates from Meta: at start, then every 15 minutes (idempotent: every worker may do it)."""
        while True:
            try:
                await self.whatsapp_templates.sync_all()
            except Exception:
                failures.exception("whatsapp.templates_sync_failed")
            await asyncio.sleep(SYNC_EVERY.total_seconds())

    async def _fire_timers(self) -> None:
        """The scheduler: timed actions whose time has come (postponed sends wait in the queue itself)."""
        while True:
            try:
                if await self.timers.fire_due():
                    continue
            except Exception:
                failures.exception("scheduler.failed")
            await asyncio.sleep(self.settings.timer_poll_seconds)

    async def _run_campaigns(self) -> None:
        """Campaign runner: tops up each running campaign's window; idle ticks every second."""
        while True:
            try:
                busy = await self.campaign_runner.tick()
            except Exception:
                failures.exception("campaigns.failed")
                busy = 0
            if not busy:
                # A running campaign whose window is full looks again soon: its messages drain fast.
                idle = 0.05 if self.campaign_runner.active else 1.0
                await woken(self.campaign_wake, idle)
                self.campaign_wake.clear()
            else:
                await asyncio.sleep(0.05)  # let the dispatcher drain the window before topping it up

    async def _maintain(self) -> None:
        """Keep channels in step with the transports table; apply receipts that raced their submit; store
        concatenated inbound parts whose message stayed incomplete past the expiry."""
        tick = 0
        while True:
            await asyncio.sleep(1.0)
            tick += 1
            try:
                await self.deliveries.sweep()
                if tick % 5 == 0:
                    await self.deliveries.fall_back_overdue()
                if tick % 60 == 0:
                    await self.inbox.expire_parts()
                    await self.smpp_applications.expire_parts()
                if tick % 5 == 0:
                    await self.transports.refresh()
                if tick % 2 == 0:
                    await self.transports.report(utcnow())
            except Exception:
                failures.exception("maintenance.failed")

    async def close(self) -> None:
        started = bool(self._tasks)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.transports.stop()
        if started:
            with contextlib.suppress(Exception):  # best effort: a dead worker's reports simply go stale
                await self.transports.report(utcnow())  # this worker runs nothing any more
        await self.smpp_applications.close()
        await self.outbox.close()
        await self.inbox.close()
        await self.deliveries.close()
        await self.webhook_sender.close()
        await self.bus.close()
        await self.db.close()


def freeze_startup_heap() -> None:
    """Keep the objects made at start-up (which live as long as the process) out of full collections.

    Without it, CPython's full collections walk the whole start-up heap and pause the event loop for
    25–65 ms under load: the inbound p99 tail (docs/benchmarks.md, finding 15).
    """
    gc.collect()
    gc.freeze()


def build(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> Parley:
    settings = settings or Settings()
    if clock is None:
        clock = OffsetClock(settings.clock_offset_file) if settings.clock_offset_file else utcnow
    db = Database(settings.database_url, pool_size=settings.database_pool)
    cache = DirectoryCache(db, country=settings.country, timezone=settings.timezone)
    bus = EventBus(postgres_dsn(settings.database_url), expand=MessageDetails(db))
    deliveries = Deliveries(db, clock, on_changes=StatusNotifier(db, bus).changed)

    def make_channel(row: Any) -> Channel:
        config = row.config
        if row.kind == "curl":
            return CurlChannel(row.name, config["command"])
        if row.kind == "whatsapp":
            return WhatsAppChannel(
                row.name,
                phone_number_id=config["phone_number_id"],
                waba_id=config["waba_id"],
                access_token=config["access_token"],
                api_base=config.get("api_base") or "https://graph.facebook.com/v21.0",
            )
        if row.kind == "twilio":
            return TwilioChannel(
                row.name,
                config["account_sid"],
                config["auth_token"],
                api_base=config.get("api_base") or "https://api.twilio.com",
                status_callback=settings.public_base + "/api/v2/webhooks/twilio/status",
            )
        if row.kind == "telnyx":
            return TelnyxChannel(
                row.name,
                config["api_key"],
                messaging_profile_id=config.get("messaging_profile_id"),
                api_base=config.get("api_base") or "https://api.telnyx.com",
                webhook_url=settings.public_base + "/api/v2/webhooks/telnyx",
            )

        async def on_receipt(receipt: Receipt, name: str = row.name) -> None:
            await deliveries.receipt(name, receipt)

        async def on_inbound(inbound: Inbound, name: str = row.name) -> None:
            await inbox.receive(name, inbound)

        return SmppChannel(
            row.name,
            config["host"],
            int(config["port"]),
            config["system_id"],
            config.get("password", ""),
            system_type=config.get("system_type", ""),
            on_receipt=on_receipt,
            on_inbound=on_inbound,
            default_region=settings.country,
            window=int(config.get("window", 32)),
            throughput=config.get("throughput"),
        )

    transports = Transports(db, make_channel)

    async def carriers() -> dict[str, str]:
        return (await cache.config()).carriers

    async def whatsapp_numbers() -> dict[str, WhatsAppNumber]:
        return (await cache.config()).whatsapp

    media = MediaStore(
        db,
        clock,
        media_dir=settings.media_dir,
        in_database=not settings.is_sqlite,  # PostgreSQL: every host must see every file (docs/architecture.md)
        secret=settings.secret,
        public_base=settings.public_base,
        url_lifetime=timedelta(days=settings.media_url_days),
    )
    dispatcher = Dispatcher(
        db,
        transports,
        deliveries,
        clock,
        worker=worker_name(),
        claim_batch=settings.claim_batch,
        max_in_flight=settings.max_in_flight,
        lease=timedelta(seconds=settings.lease_seconds),
        carriers=carriers,
        whatsapp=whatsapp_numbers,
        media=media.media_refs,
        own_links=f"{settings.public_base}/r/",
        policy=RetryPolicy(
            base=timedelta(seconds=settings.retry_base_seconds),
            give_up_after=timedelta(hours=settings.give_up_hours),
        ),
    )
    # WhatsApp templates are checked against the last sync before Meta is asked.
    whatsapp_templates = WhatsAppTemplates(db, cache, clock, make_channel)
    outbox = Outbox(
        db,
        cache,
        clock,
        on_enqueued=dispatcher.wake,
        attachments=media,
        whatsapp=WhatsAppSends(db, templates=whatsapp_templates),
        links=LinkMaker(settings.public_base),
        own_links=f"{settings.public_base}/r/",
    )
    campaign_wake = asyncio.Event()
    router = RouterWorker(
        db,
        InboundRouter(
            db, bus, clock, on_enqueued=dispatcher.wake, templates=whatsapp_templates, on_routed=SmppInbound(clock)
        ),
        clock,
        worker=worker_name(),
    )
    media_fetcher = MediaFetcher(
        db,
        media,
        transports.channel,
        clock,
        max_bytes=settings.max_media_bytes,
        on_changed=MediaEvents(db, bus).changed,
    )
    # Channels are built later (Transports.refresh), so `make_channel` may refer to the inbox made here.
    inbox = Inbox(
        db,
        clock,
        on_stored=router.wake,
        on_media=media_fetcher.wake,
        part_expiry=timedelta(hours=settings.concat_expiry_hours),
    )
    reply_links = ReplyLinks(db, cache, inbox, clock)
    throttle = Throttle(db, clock)  # one set of counters for passwords and API keys
    box = SecretBox(db, settings.secret)
    api_keys = ApiKeys(db, cache, throttle, box, clock)
    directory_sync = DirectorySync(db, Ldap3Server(), cache, clock)
    auth = Authenticator(cache, throttle, secret=settings.secret, ldap_bind=directory_sync.check_password)
    # Outbound webhooks: deliveries are written in the transaction of the change they announce.
    endpoint_cache = EndpointCache()
    webhooks = WebhookEndpoints(db, cache, box, api_keys, clock, endpoint_cache)
    webhook_sender = WebhookSender(db, clock, webhooks)
    outbox_of_webhooks = WebhookOutbox(clock, _render_message, endpoint_cache, lease=webhook_sender.lease)
    db.before_commit(outbox_of_webhooks.write, after=webhook_sender.written)
    return Parley(
        settings=settings,
        db=db,
        cache=cache,
        auth=auth,
        outbox=outbox,
        inbox=inbox,
        deliveries=deliveries,
        transports=transports,
        dispatcher=dispatcher,
        queries=Messages(db),
        bus=bus,
        conversations=Conversations(db, cache, outbox, bus, clock, on_page=reply_links.customer_present),
        router=router,
        timers=Timers(db, bus, clock, on_enqueued=dispatcher.wake, templates=whatsapp_templates),
        numbers=Numbers(db, cache),
        blocklist=Blocklist(db, cache, clock),
        campaigns=Campaigns(db, cache, clock, wake=campaign_wake.set, templates=whatsapp_templates),
        campaign_runner=CampaignRunner(
            db,
            cache,
            clock,
            on_enqueued=dispatcher.wake,
            templates=whatsapp_templates,
            links=LinkMaker(settings.public_base),
        ),
        lists=Lists(db, cache, clock),
        campaign_wake=campaign_wake,
        sessions=Sessions(db, cache, auth, clock),
        admin=Admin(db, cache, clock, transports),
        statistics=Statistics(db, cache, clock),
        inbox_view=InboxView(db, cache, clock),
        carrier_accounts=CarrierAccounts(db),
        twilio_messages=TwilioMessages(db, outbox, cache, api_keys, clock, urls=webhooks),
        media=media,
        media_fetcher=media_fetcher,
        whatsapp_templates=whatsapp_templates,
        whatsapp_reads=WhatsAppReads(db, transports.channel, clock, worker=worker_name()),
        api_keys=api_keys,
        reply_links=reply_links,
        directory=directory_sync,
        smpp_applications=SmppApplications(
            db, cache, outbox, auth, clock, part_expiry=timedelta(hours=settings.concat_expiry_hours)
        ),
        webhooks=webhooks,
        webhook_sender=webhook_sender,
    )


def _render_message(row: Any) -> dict[str, Any]:
    """A message as the API returns it (the ``data`` of its webhook events)."""
    data: dict[str, Any] = message_out(row).model_dump(mode="json", by_alias=True, exclude={"history"})
    return data
