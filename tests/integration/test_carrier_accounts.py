"""The carriers' accounts the webhooks verify with, read from the provisioned transports."""

from __future__ import annotations

from pathlib import Path

from parley.services.carrier_accounts import CarrierAccounts, TelnyxAccount, WhatsAppAccount
from tests.support.app import in_process
from tests.support.provisioning import document

SID = "AC" + "2" * 32
KEY = "B" * 43 + "="
TRANSPORTS = [
    {"name": "tw", "role": "carrier", "kind": "twilio", "account_sid": SID, "auth_token": "tok"},
    {"name": "tx", "role": "carrier", "kind": "telnyx", "api_key": "k", "public_key": KEY},
    {"name": "wa", "role": "whatsapp", "kind": "whatsapp", "number": "+15551230001", "phone_number_id": "111",
     "waba_id": "222", "access_token": "EAAG", "app_secret": "shh", "verify_token": "vt"},
]  # fmt: skip


async def test_each_webhook_finds_the_account_that_signs_it(tmp_path: Path) -> None:
    numbers = [{"number": "+15551230001", "whatsapp": True, "linked_service": "Support"}]
    async with in_process(tmp_path, document(transports=TRANSPORTS, numbers=numbers)) as app:
        accounts = CarrierAccounts(app.parley.db)
        twilio = await accounts.twilio(SID)
        assert twilio is not None and (twilio.transport, twilio.auth_token) == ("tw", "tok")
        assert await accounts.twilio("AC" + "3" * 32) is None
        assert await accounts.telnyx() == [TelnyxAccount("tx", KEY)]
        assert await accounts.whatsapp("111") == WhatsAppAccount("wa", "+15551230001", "111", "shh", "vt")
        assert await accounts.whatsapp("999") is None
        assert [a.transport for a in await accounts.whatsapp_accounts()] == ["wa"]
