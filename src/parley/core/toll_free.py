"""Toll-free numbers (seed 001: toll-free verification). Pure.

US and Canadian carriers filter messages from toll-free numbers that are not verified (the business behind them
registered with the toll-free messaging registry). A company number marked toll-free carries its verification state
and the business details a verification asks for; sending from one that is not verified follows
``unverified_sending``: ``allow`` (send, the carrier may filter), ``limit`` (at most ``unverified_limit`` messages in
24 hours, then refused) or ``refuse`` (refused with the reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERIFICATIONS = ("unverified", "pending", "verified", "rejected")
POLICIES = ("allow", "limit", "refuse")
DEFAULT_LIMIT = 500  # messages per 24 hours from an unverified number under ``limit``
BUSINESS_FIELDS = (
    "business_name", "website", "address", "contact_name", "contact_email", "contact_phone", "use_case",
    "monthly_volume", "opt_in", "sample_message",
)  # fmt: skip


@dataclass(frozen=True)
class TollFree:
    verification: str = "unverified"
    unverified_sending: str = "allow"
    unverified_limit: int = DEFAULT_LIMIT
    business: dict[str, str] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return self.verification == "verified"

    def to_doc(self) -> dict[str, Any]:
        return {"verification": self.verification, "unverified_sending": self.unverified_sending,
                "unverified_limit": self.unverified_limit, "business": dict(self.business)}  # fmt: skip

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> TollFree | None:
        """A stored state (checked when it was saved); None for a number that is not toll-free."""
        if not isinstance(doc, Mapping):
            return None
        business = doc.get("business")
        return cls(
            str(doc.get("verification", "unverified")),
            str(doc.get("unverified_sending", "allow")),
            int(doc.get("unverified_limit", DEFAULT_LIMIT)),
            {str(k): str(v) for k, v in business.items()} if isinstance(business, Mapping) else {},
        )

    def label(self) -> str:
        """How the console shows it: "toll-free, verified", "toll-free, pending (sending limited to 500 a day)"."""
        if self.verified:
            return "toll-free, verified"
        how = {"allow": "", "limit": f" (sending limited to {self.unverified_limit} a day)",
               "refuse": " (sending refused)"}[self.unverified_sending]  # fmt: skip
        return f"toll-free, {self.verification}{how}"


def refusal(number: str, toll_free: TollFree | None, sent_last_day: int, adding: int) -> str | None:
    """Why ``adding`` more messages from ``number`` may not go (``sent_last_day`` went in the last 24 h), or None."""
    if toll_free is None or toll_free.verified or toll_free.unverified_sending == "allow":
        return None
    state = f"{number} is a toll-free number whose verification is {toll_free.verification}"
    if toll_free.unverified_sending == "refuse":
        return f"{state}: sending from it is refused until it is verified"
    if sent_last_day + adding > toll_free.unverified_limit:
        return (
            f"{state}: at most {toll_free.unverified_limit} messages in 24 hours until it is verified, and "
            f"{sent_last_day} went already"
        )
    return None
