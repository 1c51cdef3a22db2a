"""`[webhooks] allow_private`: the networks outbound webhooks may reach although they are not public."""

from __future__ import annotations

import pytest

from parley.core.provisioning import ProvisioningError, parse
from tests.support.provisioning import document


def test_allow_private_is_kept_as_given() -> None:
    spec = parse(document(webhooks={"allow_private": ["127.0.0.0/8", "10.1.0.0/16"]}))
    assert spec.webhooks is not None and spec.webhooks["allow_private"] == ["127.0.0.0/8", "10.1.0.0/16"]


def test_without_it_nothing_private_is_allowed() -> None:
    spec = parse(document(webhooks={"secret": "a secret of sixteen+"}))
    assert spec.webhooks is not None and spec.webhooks["allow_private"] == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [pytest.param(["10.0.0.0/33"], "not a CIDR network", id="bad-prefix"),
     pytest.param(["intranet"], "not a CIDR network", id="a-name"),
     pytest.param("10.0.0.0/8", "must be a list of strings", id="not-a-list")],
)  # fmt: skip
def test_a_bad_entry_is_named(value: object, problem: str) -> None:
    with pytest.raises(ProvisioningError, match=rf"webhooks\.allow_private.*{problem}"):
        parse(document(webhooks={"allow_private": value}))
