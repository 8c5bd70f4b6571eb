"""TLS material from PEM files, and client certificate -> role mapping (mutual TLS).

Plaintext is the local default. With TLS_CERT_FILE and TLS_KEY_FILE the
server speaks TLS only; with TLS_CLIENT_CA_FILE as well, every client must
present a certificate signed by that CA (grpc has no "optional" client
certificate mode), and TLS_CLIENT_ROLES maps a certificate's subject common
name to a role.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError
from ..domain.access import Role


@dataclass(frozen=True)
class TlsMaterial:
    certificate_chain: bytes
    private_key: bytes
    client_ca: bytes | None  # set: mutual TLS, client certificates required and verified

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None


def load_tls(cert_file: str, key_file: str, client_ca_file: str) -> TlsMaterial | None:
    if not cert_file:
        return None
    return TlsMaterial(
        certificate_chain=_pem(cert_file, "TLS_CERT_FILE", b"CERTIFICATE"),
        private_key=_pem(key_file, "TLS_KEY_FILE", b"PRIVATE KEY"),
        client_ca=_pem(client_ca_file, "TLS_CLIENT_CA_FILE", b"CERTIFICATE") if client_ca_file else None,
    )


def certificate_roles(pairs: tuple[tuple[str, str], ...]) -> dict[str, Role]:
    return {common_name: Role.parse(role) for common_name, role in pairs}


def _pem(path: str, variable: str, marker: bytes) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"{variable}={path!r} cannot be read: {error.strerror}") from None
    if b"-----BEGIN " not in data or marker not in data:
        raise ConfigError(f"{variable}={path!r} holds no PEM {marker.decode().lower()}")
    return data
