"""The canonical JSON of a validated body is what idempotency fingerprints hash: it must
not change across releases (a sender's retry after an upgrade would otherwise be refused
as a reused message_id), and producing it must not warn."""

from __future__ import annotations

import warnings

import orjson
import pytest

from docbus.consumers.schemas.inbound import INBOUND

PINNED = [
    ("document.share",
     {"doc_id": "d", "shared_by": "a", "shared_with": "b", "role": "owner",
      "expires_at": "2026-12-01T21:36:20.073755Z"},
     b'{"doc_id":"d","expires_at":"2026-12-01T21:36:20.073755Z","role":"owner",'
     b'"shared_by":"a","shared_with":"b"}'),
    ("folder.share",
     {"folder_id": "f", "shared_by": "a", "shared_with": "b", "role": "viewer",
      "expires_at": "2031-02-03T04:05:06+05:30"},
     b'{"expires_at":"2031-02-02T22:35:06Z","folder_id":"f","role":"viewer",'
     b'"shared_by":"a","shared_with":"b"}'),
    ("document.share",
     {"doc_id": "d", "shared_by": "a", "shared_with": "b", "role": "owner"},
     b'{"doc_id":"d","expires_at":null,"role":"owner","shared_by":"a","shared_with":"b"}'),
]


@pytest.mark.parametrize(("routing_key", "body", "canonical"), PINNED)
def test_the_canonical_body_is_pinned_and_made_without_a_warning(
    routing_key: str, body: dict[str, object], canonical: bytes
) -> None:
    model = INBOUND[routing_key].model_validate(body)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dumped = orjson.dumps(model.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    assert dumped == canonical
