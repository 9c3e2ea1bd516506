"""The contract's reply envelope."""

from __future__ import annotations

from docbus.core.errors import DomainError
from docbus.core.ports import Json


def success(data: Json) -> Json:
    return {"ok": True, "data": data}


def failure(error: DomainError) -> Json:
    return {
        "ok": False,
        "error": {"code": error.code, "message": error.message, "details": error.details},
    }
