"""Operator errors: masked URLs and one-line messages that name the setting."""

from __future__ import annotations

from docbus.ops.reach import Unreachable, mask


def test_mask_hides_the_password_only() -> None:
    assert mask("amqp://guest:secret@10.0.0.1:5672/vh") == "amqp://guest:***@10.0.0.1:5672/vh"
    assert mask("postgresql://postgres@127.0.0.1:5432/docbus") == (
        "postgresql://postgres@127.0.0.1:5432/docbus"
    )


def test_unreachable_names_the_server_the_masked_address_and_the_setting() -> None:
    text = str(Unreachable("RabbitMQ", "amqp://u:pw@host:5672/", "Connection refused"))
    assert "RabbitMQ" in text and "amqp://u:***@host:5672/" in text
    assert "DOCBUS_RABBIT_URL" in text and "pw" not in text.replace("***", "")
