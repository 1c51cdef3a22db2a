"""The admin area (/admin): its index, and every admin page's router (administrators only)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from parley.routes import adopt
from parley.web import (
    admin_directory,
    admin_numbers,
    admin_reply_links,
    admin_sender_ids,
    admin_settings,
    admin_transports,
    admin_users,
    admin_whatsapp,
)
from parley.web.page_router import page_router
from parley.web.security import AdminSession
from parley.web.templating import render

SECTIONS = (
    ("/admin/users", "Users", "Extensions, licences, roles and passwords"),
    ("/admin/services", "Services", "Groups of users sharing an SMS number"),
    ("/admin/numbers", "Numbers", "Company numbers: routing, working hours, actions"),
    ("/admin/bots", "Bots", "Automatic answers for routing and actions"),
    ("/admin/transports", "Transports", "SMS servers, GSM gateways and carriers; live state and test sends"),
    (
        "/admin/whatsapp-templates",
        "WhatsApp templates",
        "Message templates: Meta's review status, sync, submit new ones",
    ),
    ("/admin/directory", "User directory", "Users from LDAP or Active Directory: last syncs, sync now"),
    ("/admin/mail2sms", "Mail2SMS", "E-mail to SMS: on or off, and its protection password"),
    ("/admin/prices", "Prices", "Price per destination prefix"),
    ("/admin/reply-links", "Reply links", "The chat page's company name and how long links last"),
    ("/admin/sender-ids", "Sender IDs by country", "Countries that take only registered sender IDs"),
    ("/blocklist", "Blocklist", "Numbers that may not be messaged"),
)


router = page_router()


@router.get("/admin")
async def index(request: Request, _: AdminSession) -> Response:
    return render(request, "admin/index.html", {"admin_sections": SECTIONS})


adopt(
    router,
    admin_users.router,
    admin_numbers.router,
    admin_transports.router,
    admin_settings.router,
    admin_whatsapp.router,
    admin_reply_links.router,
    admin_directory.router,
    admin_sender_ids.router,
)
