"""Value objects: roles, capabilities and the identifier rule of the contract."""

from __future__ import annotations

import re
from enum import StrEnum

IDENTIFIER = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


class Capability(StrEnum):
    READ = "read"
    WRITE = "write"
    SHARE = "share"


class Role(StrEnum):
    """A user's role on one document."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"

    @property
    def capabilities(self) -> frozenset[Capability]:
        return ROLE_CAPABILITIES[self]


class OrgRole(StrEnum):
    """A user's role in an organisation."""

    MEMBER = "member"
    ADMIN = "admin"


ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.VIEWER: frozenset({Capability.READ}),
    Role.EDITOR: frozenset({Capability.READ, Capability.WRITE}),
    Role.OWNER: frozenset({Capability.READ, Capability.WRITE, Capability.SHARE}),
}
ALL_CAPABILITIES = frozenset(Capability)


def is_identifier(value: str) -> bool:
    """Identifiers are 1-128 characters from ``[A-Za-z0-9._:@-]``."""
    return IDENTIFIER.fullmatch(value) is not None


class CacheScope:
    """Names of the things a cached reply depends on; a write invalidates their scopes.

    A folder's listing depends on the folder and the reader; a document get on the
    document and the reader. Every write names the scopes it changed.
    """

    @staticmethod
    def folder(folder_id: str) -> str:
        return f"f:{folder_id}"

    @staticmethod
    def document(doc_id: str) -> str:
        return f"d:{doc_id}"

    @staticmethod
    def user(user_id: str) -> str:
        return f"u:{user_id}"

    @staticmethod
    def org_tree(org_id: str) -> str:
        """The org's folder tree (names, places, trash): folder.children and trash.list."""
        return f"t:{org_id}"

    TREE = "t"
    """Every org's folder tree, for the replies that cannot name their org before reading
    the database (document.get, folder.list): bumped by what hides or moves a subtree."""
