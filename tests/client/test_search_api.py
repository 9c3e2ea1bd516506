"""The typed method of contract v2's search: the body it sends (only the filters given)
and the model it returns (against a stand-in responder on RabbitMQ)."""

from __future__ import annotations

import orjson
import pytest

from docbus_client import DocbusClient, NotFound, SearchResults
from tests.client.responder import Responder
from tests.client.test_typed_api import document, ok

pytestmark = pytest.mark.integration


async def test_search_sends_only_the_filters_given_and_parses_the_page(
    docbus: DocbusClient, responder: Responder
) -> None:
    data = {"documents": [document("d1")], "next_cursor": "c2"}
    responder.answer("document.search", lambda _: ok(data))
    page = await docbus.search_documents(
        "o1", "u1", text="budget rev", folder_id="f1", mime_type="image/*",
        tags=["q3", "final"], limit=5, cursor="c1",
    )
    message = responder.received[-1]
    assert message.routing_key == "document.search"
    assert orjson.loads(message.body) == {
        "org_id": "o1", "user_id": "u1", "text": "budget rev", "folder_id": "f1",
        "mime_type": "image/*", "tags": ["q3", "final"], "limit": 5, "cursor": "c1",
    }
    assert isinstance(page, SearchResults)
    assert [d.doc_id for d in page.documents] == ["d1"]
    assert page.next_cursor == "c2" and page.raw == data

    await docbus.search_documents("o1", "u1")
    assert orjson.loads(responder.received[-1].body) == {"org_id": "o1", "user_id": "u1"}


async def test_a_non_member_search_raises_not_found(
    docbus: DocbusClient, responder: Responder
) -> None:
    error = {"ok": False, "error": {"code": "not_found", "message": "org o1 not found",
                                    "details": []}}
    responder.answer("document.search", lambda _: error)
    with pytest.raises(NotFound):
        await docbus.search_documents("o1", "stranger", text="x")
