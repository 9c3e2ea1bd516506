"""Names from the docbus message contract (versions 1 and 2): exchanges and routing keys."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

COMMANDS_EXCHANGE = "docbus.commands"
"""Topic exchange that carries commands and queries."""

EVENTS_EXCHANGE = "doc.events"
"""Topic exchange on which the worker publishes events."""

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
"""RabbitMQ's direct reply-to pseudo-queue: replies go straight to the consuming channel."""

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"

ShareRole = Literal["viewer", "editor", "owner"]
OrgRole = Literal["member", "admin"]


class RoutingKey(StrEnum):
    """Routing keys of the commands and queries on :data:`COMMANDS_EXCHANGE`."""

    CREATE_FOLDER = "folder.create"
    UPLOAD_DOCUMENT = "document.upload"
    SHARE_DOCUMENT = "document.share"
    REVOKE_SHARE = "document.unshare"
    GET_DOCUMENT = "document.get"
    LIST_FOLDER = "folder.list"
    SET_MEMBERSHIP = "org.member.set"
    REMOVE_MEMBERSHIP = "org.member.remove"
    # contract version 2: lives of documents and folders
    RENAME_DOCUMENT = "document.rename"
    MOVE_DOCUMENT = "document.move"
    REVERT_DOCUMENT = "document.revert"
    TRASH_DOCUMENT = "document.trash"
    RESTORE_DOCUMENT = "document.restore"
    PURGE_DOCUMENT = "document.purge"
    RENAME_FOLDER = "folder.rename"
    MOVE_FOLDER = "folder.move"
    TRASH_FOLDER = "folder.trash"
    RESTORE_FOLDER = "folder.restore"
    PURGE_FOLDER = "folder.purge"
    FOLDER_CHILDREN = "folder.children"
    TRASH_LIST = "trash.list"
    # contract version 2: sharing
    SHARE_FOLDER = "folder.share"
    UNSHARE_FOLDER = "folder.unshare"
    DOCUMENT_SHARES = "document.shares"
    EXPLAIN_ACCESS = "access.explain"
    SHARED_WITH_ME = "shared.with_me"
    # contract version 2: search
    SEARCH_DOCUMENTS = "document.search"
