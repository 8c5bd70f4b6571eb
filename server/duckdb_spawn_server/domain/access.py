"""Who is calling and what they may do: roles and principals.

Roles are ordered: every role may do what the roles below it may. The
method -> role table lives in the API layer (api/access_policy.py), since
methods are a transport notion; this module only knows the roles.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.IntEnum):
    """`reader` reads, `writer` also writes projects, `admin` may do everything."""

    READER = 1
    WRITER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text.strip()[:40]!r}; expected reader, writer or admin") from None


class Via(enum.Enum):
    """How the caller proved who it is."""

    ANONYMOUS = "anonymous"
    TOKEN = "token"
    CERTIFICATE = "certificate"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller (or the anonymous one). `role` None: may call only open methods."""

    name: str
    role: Role | None
    via: Via

    @property
    def authenticated(self) -> bool:
        return self.via is not Via.ANONYMOUS

    def may(self, required: Role) -> bool:
        return self.role is not None and self.role >= required

    @property
    def role_label(self) -> str:
        return self.role.label if self.role is not None else "none"


def anonymous(role: Role | None) -> Principal:
    return Principal("anonymous", role, Via.ANONYMOUS)
