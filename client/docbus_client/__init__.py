"""docbus client: typed async access to the docbus message contract over RabbitMQ.

Stands alone: it imports aio-pika (and aiormq, which aio-pika is built on), orjson and
the standard library, nothing of the worker (an import-linter contract checks this).
"""

from docbus_client.client import DocbusClient
from docbus_client.errors import (
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
from docbus_client.events import Event, EventStream
from docbus_client.models import (
    AccessGrant,
    Document,
    DocumentVersion,
    Explanation,
    Folder,
    FolderChildren,
    FolderListing,
    FolderShare,
    Membership,
    Purged,
    SearchResults,
    Share,
    SharedItem,
    SharedWithMe,
    ShareList,
    TrashItem,
    TrashListing,
)
from docbus_client.publishing import new_message_id
from docbus_client.reply import Reply
from docbus_client.topology import (
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
    "AccessGrant",
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
    "Explanation",
    "Folder",
    "FolderChildren",
    "FolderListing",
    "FolderShare",
    "Forbidden",
    "InvalidRequest",
    "Membership",
    "NotFound",
    "OrgRole",
    "Purged",
    "Reply",
    "RoutingKey",
    "SearchResults",
    "Share",
    "ShareList",
    "ShareRole",
    "SharedItem",
    "SharedWithMe",
    "TrashItem",
    "TrashListing",
    "Unavailable",
    "new_message_id",
]
