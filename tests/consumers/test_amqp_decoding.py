"""The tolerant decoding seam (adapters/amqp_decoding.py) on real frames, without a broker:
the frames come from tests/fixtures/raw_amqp.py and are read by pamqp itself, as aiormq's
reader does; what the worker would publish back is marshalled by pamqp too."""

from __future__ import annotations

import datetime
import struct
from types import SimpleNamespace
from typing import Any

import pamqp.frame
import pytest
from aio_pika.message import IncomingMessage
from aiormq.abc import DeliveredMessage
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.header import ContentHeader
from prometheus_client import REGISTRY

from docbus.adapters import amqp_decoding
from docbus.consumers.responder import dead_letter_of
from tests.consumers.conftest import Harness
from tests.fixtures.raw_amqp import (
    SHORT_STRING_PROPERTIES,
    RawField,
    RawProperties,
    publish_frames,
    split_frames,
)

BAD = b"\xff\xfe"


@pytest.fixture(autouse=True)
def tolerant() -> None:
    amqp_decoding.install()


def header_of(props: RawProperties) -> ContentHeader:
    """The content header frame as aiormq's reader gets it (the frames after it too)."""
    frames = split_frames(publish_frames(1, "docbus.commands", "document.get", props, b"{}"))
    method, header, body = (pamqp.frame.unmarshal(frame)[2] for frame in frames)
    assert isinstance(method, Basic.Publish) and method.routing_key == "document.get"
    assert isinstance(body, ContentBody) and body.value == b"{}", "the body frame reads as before"
    assert isinstance(header, ContentHeader)
    return header


def incoming(props: RawProperties, routing_key: str = "document.get") -> IncomingMessage:
    header = header_of(props)
    deliver = Basic.Deliver(consumer_tag="c", delivery_tag=1, exchange="docbus.commands",
                            routing_key=routing_key)
    return IncomingMessage(DeliveredMessage(deliver, header, b"{}", None), no_ack=True)  # type: ignore[arg-type]


def test_install_is_idempotent_and_reported() -> None:
    amqp_decoding.install()
    assert amqp_decoding.installed()


@pytest.mark.parametrize("name", SHORT_STRING_PROPERTIES)
def test_every_short_string_property_decodes_flagged_with_its_bytes(name: str) -> None:
    props: dict[str, Any] = {name: BAD}
    if name == "expiration":  # aio-pika turns it into a number; RabbitMQ refuses it anyway
        with pytest.raises(ValueError, match="float"):
            incoming(RawProperties(**props))
        return
    assert amqp_decoding.undecodable(incoming(RawProperties(**props))) == {name: BAD.hex()}


def test_header_keys_values_and_nested_values_are_flagged() -> None:
    message = incoming(RawProperties(headers={BAD: "v", "k": BAD, "n": {"a": [BAD]}, "ok": "y"}))
    bad = amqp_decoding.undecodable(message)
    nested = ascii({"a": ["\udcff\udcfe"]})
    assert bad == {"headers.0xfffe": "76", "headers.k": "fffe", "headers.n": nested}
    kept, _ = amqp_decoding.clean_headers(message.headers)
    assert kept == {"ok": "y"}


def test_a_timestamp_out_of_range_is_flagged_with_the_seconds_sent() -> None:
    message = incoming(RawProperties(timestamp=2**63 - 1))
    assert amqp_decoding.undecodable(message) == {"timestamp": str(2**63 - 1)}


def test_a_header_timestamp_out_of_range_is_flagged_and_byte_arrays_are_not() -> None:
    stamp = RawField(b"T" + struct.pack(">Q", 2**64 - 1))
    array = RawField(b"x" + struct.pack(">I", 2) + BAD)
    message = incoming(RawProperties(headers={"when": stamp, "blob": array}))
    assert amqp_decoding.undecodable(message) == {"headers.when": str(2**64 - 1)}
    assert (message.headers or {})["blob"] == bytearray(BAD), "binary is valid as binary"


def test_valid_utf8_is_not_flagged() -> None:
    message = incoming(RawProperties(message_id="é-ü-日本", headers={"clé": "välue"}))
    assert amqp_decoding.undecodable(message) == {}


def test_the_dead_letter_of_an_undecodable_message_can_be_marshalled() -> None:
    bad: dict[str, Any] = {name: BAD for name in SHORT_STRING_PROPERTIES if name != "expiration"}
    props = RawProperties(**bad,
                          headers={BAD: "v", "trace": "t"}, timestamp=2**63 - 1)
    letter = dead_letter_of(incoming(props), "invalid: undecodable")
    frame = ContentHeader(0, 2, letter.properties).marshal()  # strict: raises on any surrogate
    headers = letter.properties.headers or {}
    assert headers["trace"] == "t"
    assert headers["x-docbus-bad-properties"]["message_id"] == BAD.hex()
    assert headers["x-docbus-bad-properties"]["headers.0xfffe"] == "76"
    assert letter.properties.message_id is None and letter.properties.timestamp is None
    assert BAD not in frame


async def test_the_pipeline_dead_letters_and_counts_an_undecodable_delivery(
    harness: Harness,
) -> None:
    """As the worker sees it after tolerant decoding: a message_id with lone surrogates."""
    counted = REGISTRY.get_sample_value(
        "docbus_undecodable_messages_total", {"consumer": "commands", "field": "message_id"}
    ) or 0.0
    bad = BAD.decode("utf-8", "surrogateescape")
    reply = await harness.send("document.get", {"doc_id": "d", "user_id": "u"}, message_id=bad)
    assert harness.responder.dead == [
        ("invalid: undecodable AMQP values in message_id", b'{"doc_id":"d","user_id":"u"}')
    ]
    assert reply is not None and reply["error"]["code"] == "invalid"
    assert REGISTRY.get_sample_value(
        "docbus_undecodable_messages_total", {"consumer": "commands", "field": "message_id"}
    ) == counted + 1


_ASCII = st.sampled_from(["", "ascii", "x-docbus"]) | st.text(st.characters(max_codepoint=127))
_TEXT = _ASCII | st.sampled_from(["\u00e9t\u00e9", "\udcff", "x\udcfe"]) | st.text(
    st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=("Cs",))
    | st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF)  # as the tolerant decoding makes
)
_FIELDS = amqp_decoding.MESSAGE_FIELDS
_BAD_TIME = amqp_decoding.BadTimestamp(9999, 12, 31, tzinfo=datetime.UTC)
_VALUES = st.none() | _TEXT | st.integers() | st.floats() | st.booleans() | st.binary() | st.lists(
    _TEXT, max_size=2
) | st.datetimes().map(lambda at: at.replace(tzinfo=datetime.UTC)) | st.just(_BAD_TIME)


@settings(max_examples=300, deadline=None)
@example(fields={}, timestamp=None, headers={"k": "\udcff"})
@example(fields={}, timestamp=None, headers={"k": ["x", "\udcff"]})
@example(fields={}, timestamp=None, headers={"\udcff": 1})
@example(fields={}, timestamp=None, headers={"k": _BAD_TIME})
@example(fields={}, timestamp=_BAD_TIME, headers=None)
@example(fields={"message_id": "m\udced"}, timestamp=None, headers={})
@example(fields={"message_id": "\u00e9t\u00e9"}, timestamp=None, headers={"k": 1.5, "n": None})
@given(
    fields=st.fixed_dictionaries({}, optional=dict.fromkeys(_FIELDS, st.none() | _ASCII | _TEXT)),
    timestamp=st.none() | st.just(_BAD_TIME),
    headers=st.none() | st.dictionaries(_ASCII | _TEXT, _VALUES, max_size=3),
)
def test_the_quick_check_finds_what_the_walk_finds(
    fields: dict[str, Any], timestamp: Any, headers: Any
) -> None:
    message = SimpleNamespace(**fields, timestamp=timestamp, headers=headers)
    assert amqp_decoding.undecodable(message) == amqp_decoding._walk(message)
