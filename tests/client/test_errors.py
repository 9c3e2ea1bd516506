"""Error envelopes become typed errors; replies that break the envelope are reported."""

from __future__ import annotations

import pytest

from docbus_client import (
    Conflict,
    DocbusClient,
    DocbusError,
    DocbusProtocolError,
    Forbidden,
    InvalidRequest,
    NotFound,
    Unavailable,
)
from tests.client.responder import Responder

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("code", "error_class"),
    [
        ("invalid", InvalidRequest),
        ("not_found", NotFound),
        ("forbidden", Forbidden),
        ("conflict", Conflict),
        ("unavailable", Unavailable),
    ],
)
async def test_an_error_envelope_raises_its_typed_error(
    docbus: DocbusClient, responder: Responder, code: str, error_class: type[DocbusError]
) -> None:
    error = {"code": code, "message": "nope", "details": [{"loc": ["doc_id"]}]}
    reply = await docbus.request("document.get", {"_error": error})
    assert not reply.ok
    with pytest.raises(error_class) as caught:
        reply.unwrap()
    assert (caught.value.code, caught.value.message) == (code, "nope")
    assert caught.value.details == [{"loc": ["doc_id"]}]


async def test_a_typed_method_raises_the_envelopes_error(
    docbus: DocbusClient, responder: Responder
) -> None:
    responder.answer(
        "document.share",
        lambda body: {"ok": False, "error": {"code": "forbidden", "message": "u2 may not share"}},
    )
    with pytest.raises(Forbidden, match="u2 may not share"):
        await docbus.share_document("d1", "u2", "u3", "viewer")


async def test_an_unknown_error_code_raises_the_base_error(
    docbus: DocbusClient, responder: Responder
) -> None:
    reply = await docbus.request("document.get", {"_error": {"code": "teapot", "message": "?"}})
    with pytest.raises(DocbusError) as caught:
        reply.unwrap()
    assert type(caught.value) is DocbusError
    assert caught.value.code == "teapot"


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"data": {}}', '{"ok": true}'])
async def test_a_reply_that_breaks_the_envelope_raises_protocol_error(
    docbus: DocbusClient, responder: Responder, raw: str
) -> None:
    with pytest.raises(DocbusProtocolError):
        await docbus.request("document.get", {"_raw": raw})
    assert docbus.in_flight == 0


async def test_reply_data_that_breaks_the_contract_raises_protocol_error(
    docbus: DocbusClient, responder: Responder
) -> None:
    responder.answer("folder.create", lambda body: {"ok": True, "data": {"folder_id": "f1"}})
    with pytest.raises(DocbusProtocolError, match="does not fit"):
        await docbus.create_folder("f1", "o1", "Docs", "u1")
