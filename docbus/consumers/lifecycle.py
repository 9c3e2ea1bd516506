"""Use cases of contract v2's lifecycle commands and queries (plain use cases: each runs
alone or in a group commit alike)."""

from __future__ import annotations

from typing import Any

import orjson

from docbus.core.cursor import CursorCodec
from docbus.core.ports import Clock, IdGenerator, ReplyCache, UnitOfWorkFactory
from docbus.handlers.explain_access import DocumentSharesHandler, ExplainAccessHandler
from docbus.handlers.folder_children import FolderChildrenHandler
from docbus.handlers.move_document import MoveDocumentHandler
from docbus.handlers.move_folder import MoveFolderHandler
from docbus.handlers.purge import PurgeDocumentHandler, PurgeFolderHandler
from docbus.handlers.rename_document import RenameDocumentHandler
from docbus.handlers.rename_folder import RenameFolderHandler
from docbus.handlers.restore_document import RestoreDocumentHandler
from docbus.handlers.restore_folder import RestoreFolderHandler
from docbus.handlers.revert_document import RevertDocumentHandler
from docbus.handlers.search_documents import SearchDocumentsHandler
from docbus.handlers.share_folder import ShareFolderHandler, UnshareFolderHandler
from docbus.handlers.shared_with_me import SharedWithMeHandler
from docbus.handlers.trash_document import TrashDocumentHandler
from docbus.handlers.trash_folder import TrashFolderHandler
from docbus.handlers.trash_list import TrashListHandler

COMMANDS = {
    "document.rename": RenameDocumentHandler,
    "document.move": MoveDocumentHandler,
    "document.revert": RevertDocumentHandler,
    "document.trash": TrashDocumentHandler,
    "document.restore": RestoreDocumentHandler,
    "document.purge": PurgeDocumentHandler,
    "folder.rename": RenameFolderHandler,
    "folder.move": MoveFolderHandler,
    "folder.trash": TrashFolderHandler,
    "folder.restore": RestoreFolderHandler,
    "folder.purge": PurgeFolderHandler,
    # contract v2: sharing (plain use cases too)
    "folder.share": ShareFolderHandler,
    "folder.unshare": UnshareFolderHandler,
}


def lifecycle_use_cases(clock: Clock, ids: IdGenerator) -> dict[str, Any]:
    """The commands' use cases by routing key."""
    return {key: make(clock, ids) for key, make in COMMANDS.items()}


def lifecycle_queries(
    uow: UnitOfWorkFactory, cache: ReplyCache, cursors: CursorCodec
) -> dict[str, Any]:
    """The queries by routing key (their cursors signed like folder.list's)."""
    return {
        "folder.children": FolderChildrenHandler(uow, cache, orjson.dumps, cursors),
        "trash.list": TrashListHandler(uow, cache, orjson.dumps, cursors),
    }


def sharing_queries(
    uow: UnitOfWorkFactory, clock: Clock, cursors: CursorCodec
) -> dict[str, Any]:
    """Contract v2's sharing queries by routing key (decided in PostgreSQL, not cached)."""
    return {
        "document.shares": DocumentSharesHandler(uow, clock, orjson.dumps),
        "access.explain": ExplainAccessHandler(uow, clock, orjson.dumps),
        "shared.with_me": SharedWithMeHandler(uow, orjson.dumps, cursors),
        # read from the documents' own transactions, like the sharing queries: not cached
        "document.search": SearchDocumentsHandler(uow, orjson.dumps, cursors),
    }
