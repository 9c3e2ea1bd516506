"""A small, obviously correct reference model of contract v2's access rules (section 1).

Plain Python over dicts: no code shared with docbus. Folders point at their parent; a
grant is (role, expires_at); expiry is judged at the model's own ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RANKS = {"viewer": 1, "editor": 2, "owner": 3}
CAPABILITIES = {
    None: set(),
    "viewer": {"read"},
    "editor": {"read", "write"},
    "owner": {"read", "write", "share"},
}


@dataclass
class Model:
    now: int = 0
    folder_org: dict[str, str] = field(default_factory=dict)
    folder_parent: dict[str, str | None] = field(default_factory=dict)
    folder_trashed: dict[str, bool] = field(default_factory=dict)
    doc_folder: dict[str, str] = field(default_factory=dict)
    doc_trashed: dict[str, bool] = field(default_factory=dict)
    doc_updated: dict[str, int] = field(default_factory=dict)
    members: dict[tuple[str, str], str] = field(default_factory=dict)  # (org, user) -> role
    doc_shares: dict[tuple[str, str], tuple[str, int | None]] = field(default_factory=dict)
    folder_shares: dict[tuple[str, str], tuple[str, int | None]] = field(default_factory=dict)

    def chain(self, folder_id: str) -> list[str]:
        """The folder and every folder above it."""
        found: list[str] = []
        current: str | None = folder_id
        while current is not None:
            found.append(current)
            current = self.folder_parent[current]
        return found

    def folder_live(self, folder_id: str) -> bool:
        return not any(self.folder_trashed[f] for f in self.chain(folder_id))

    def counts(self, grant: tuple[str, int | None] | None) -> str | None:
        if grant is None:
            return None
        role, expires_at = grant
        return role if expires_at is None or expires_at > self.now else None

    def role_on_document(self, user: str, doc: str) -> str | None:
        """Effective role, None for none (admins: owner; non-members: none)."""
        folder = self.doc_folder[doc]
        org_role = self.members.get((self.folder_org[folder], user))
        if org_role is None:
            return None
        if org_role == "admin":
            return "owner"
        roles = [self.counts(self.doc_shares.get((doc, user)))]
        roles += [self.counts(self.folder_shares.get((f, user))) for f in self.chain(folder)]
        held = [r for r in roles if r is not None]
        return max(held, key=lambda r: RANKS[r]) if held else None

    def can_get(self, user: str, doc: str) -> bool:
        if doc not in self.doc_folder or self.doc_trashed[doc]:
            return False
        if not self.folder_live(self.doc_folder[doc]):
            return False
        return "read" in CAPABILITIES[self.role_on_document(user, doc)]

    def listing(self, user: str, folder: str) -> list[str] | None:
        """The doc ids listed, in order; None for not_found."""
        if not self.folder_live(folder) or (self.folder_org[folder], user) not in self.members:
            return None
        docs = [d for d, f in self.doc_folder.items() if f == folder and self.can_get(user, d)]
        return sorted(docs, key=lambda d: (self.doc_updated[d], d), reverse=True)

    def search(self, user: str, org: str, folder: str | None = None) -> list[str] | None:
        """document.search without text: the doc ids found, newest first; None for
        not_found (a non-member; a folder filter that is not a live folder of the org)."""
        if (org, user) not in self.members:
            return None
        if folder is not None and (self.folder_org[folder] != org or not self.folder_live(folder)):
            return None
        docs = [d for d, f in self.doc_folder.items()
                if self.folder_org[f] == org and self.can_get(user, d)
                and (folder is None or folder in self.chain(f))]
        return sorted(docs, key=lambda d: (self.doc_updated[d], d), reverse=True)

    def grants(self, doc: str) -> set[tuple[str, str, str, str | None]]:
        """(user, source, role, folder) for every live grant of a member on the document,
        and ("org_admin", "owner") for every admin of its org."""
        org = self.folder_org[self.doc_folder[doc]]
        found: set[tuple[str, str, str, str | None]] = set()
        for (o, user), org_role in self.members.items():
            if o != org:
                continue
            if org_role == "admin":
                found.add((user, "org_admin", "owner", None))
            role = self.counts(self.doc_shares.get((doc, user)))
            if role is not None:
                found.add((user, "document", role, None))
            for folder in self.chain(self.doc_folder[doc]):
                role = self.counts(self.folder_shares.get((folder, user)))
                if role is not None:
                    found.add((user, "folder", role, folder))
        return found
