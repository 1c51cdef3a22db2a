"""User licenses and what each allows (contract: basic < essential < business < premium)."""

from __future__ import annotations

from enum import IntEnum


class License(IntEnum):
    BASIC = 0
    ESSENTIAL = 1
    BUSINESS = 2
    PREMIUM = 3

    @classmethod
    def parse(cls, value: str) -> License:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f'"{value}" is not one of {", ".join(names())}') from None

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def may_send_sms(self) -> bool:
        return self >= License.ESSENTIAL

    @property
    def may_converse(self) -> bool:
        return self >= License.BUSINESS


def names() -> list[str]:
    return [lic.label for lic in License]
