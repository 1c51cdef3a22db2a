"""Who may open, join or attach calls to a conversation, and how much of it a former member still sees.

Issue 10: joining a conversation hands over its whole history, and a call attached to it shows in its
timeline, so both are for the members of the conversation's service (or admins). A participant who left
or was removed keeps the conversation in his list but sees it only as it was when he left.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from parley.services import conversation_support as support
from parley.services.directory import User
from parley.services.errors import ServiceError
from parley.store.tables import Record


class NotAMember(ServiceError):
    """The user is not a member of the service (or the number) the conversation belongs to."""


async def _is_participant(conn: AsyncConnection, user: User, conversation: Record | None) -> bool:
    if conversation is None:
        return False
    return user.id in await support.active_user_ids(conn, conversation.id)


async def check_may_join(conn: AsyncConnection, user: User, service: Record, conversation: Record | None) -> None:
    """Opening (or joining) a service's conversation: its members, admins, or who is already in it."""
    if user.is_admin or await support.is_service_member(conn, service.id, user.id):
        return
    if await _is_participant(conn, user, conversation):
        return
    raise NotAMember(
        403, f'You are not a member of the service "{service.name}": only its members may open its conversations'
    )


async def check_may_record_call(
    conn: AsyncConnection,
    user: User,
    *,
    agent: User | None,
    service: Record | None,
    company_number: str | None,
    conversation: Record | None,
) -> None:
    """A call is recorded by its agent (admins: for anyone) on a number of a service he is a member of, his own
    office number, or a conversation he is in."""
    if user.is_admin:
        return
    if agent is not None and agent.id != user.id:
        raise NotAMember(403, "Only administrators may record a call for another agent")
    if await _is_participant(conn, user, conversation):
        return
    if company_number is not None and company_number == user.office_number:
        return
    if service is not None:
        if await support.is_service_member(conn, service.id, user.id):
            return
        raise NotAMember(
            403, f'You are not a member of the service "{service.name}": its calls are not yours to record'
        )
    if company_number is not None:
        raise NotAMember(403, f"{company_number} is neither your number nor a number of a service you are in")


def seen_until(user: User, members: list[Record]) -> datetime | None:
    """The moment a former participant left (his view of the conversation stops there); None: sees it all."""
    if user.is_admin:
        return None
    mine = [m for m in members if m.user_id == user.id]
    if not mine or mine[0].active:
        return None
    left: datetime | None = mine[0].left_at
    return left
