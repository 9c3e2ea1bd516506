"""docbus client: typed async access to the docbus message contract over RabbitMQ.

Stands alone: it imports aio-pika (and aiormq, which aio-pika is built on), orjson and
the standard library, nothing of the worker (an import-linter contract checks this).
"""

from client.client import DocbusClient
from client.errors import (
    Conflict,
    DocbusConnectionError,
    DocbusConnectionLost,
    DocbusError,
    DocbusProtocolError,
    DocbusTimeout,
    DocbusUnroutable,
    Forbidden,
    InvalidRequest,
    NotFound,
    Unavailable,
)
from client.events import Event, EventStream
from client.models import (
    Document,
    DocumentVersion,
    Folder,
    FolderChildren,
    FolderListing,
    Membership,
    Purged,
    Share,
    TrashItem,
    TrashListing,
)
from client.publishing import new_message_id
from client.reply import Reply
from client.topology import (
    COMMANDS_EXCHANGE,
    DIRECT_REPLY_TO,
    EVENTS_EXCHANGE,
    OrgRole,
    RoutingKey,
    ShareRole,
)

__all__ = [
    "COMMANDS_EXCHANGE",
    "DIRECT_REPLY_TO",
    "EVENTS_EXCHANGE",
    "Conflict",
    "DocbusClient",
    "DocbusConnectionError",
    "DocbusConnectionLost",
    "DocbusError",
    "DocbusProtocolError",
    "DocbusTimeout",
    "DocbusUnroutable",
    "Document",
    "DocumentVersion",
    "Event",
    "EventStream",
    "Folder",
    "FolderChildren",
    "FolderListing",
    "Forbidden",
    "InvalidRequest",
    "Membership",
    "NotFound",
    "OrgRole",
    "Purged",
    "Reply",
    "RoutingKey",
    "Share",
    "ShareRole",
    "TrashItem",
    "TrashListing",
    "Unavailable",
    "new_message_id",
]
