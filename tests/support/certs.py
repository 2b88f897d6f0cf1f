"""Certificates for test servers: a private CA with a server certificate it signed, and a stray self-signed one.

Clients trust the CA through OpenSSL's SSL_CERT_FILE (what `ssl.create_default_context`
loads), so a server with the CA's certificate verifies as a real provider's would, and
one with the self-signed certificate does not.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path
    fingerprint: str
    """SHA-256 of the certificate (DER), lower-case hex."""


@dataclass(frozen=True)
class Certs:
    ca: Path
    """The CA's certificate: point SSL_CERT_FILE at it."""
    trusted: ServerCert
    """For localhost and 127.0.0.1, signed by the CA."""
    untrusted: ServerCert
    """For localhost and 127.0.0.1, signed by nobody the client knows."""


def make_certs(folder: Path) -> Certs:
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailbeacon test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    trusted = _server(folder, "trusted", ca_name, ca_key, ca)
    stray_key = ec.generate_private_key(ec.SECP256R1())
    untrusted = _server(folder, "untrusted", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
                        stray_key, None)
    return Certs(ca_path, trusted, untrusted)


def _server(folder: Path, name: str, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
            ca: x509.Certificate | None) -> ServerCert:
    key = ec.generate_private_key(ec.SECP256R1()) if ca is not None else issuer_key
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o644)  # Dovecot runs as another (unprivileged) user and reads it
    return ServerCert(cert_path, key_path, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest())
