"""Test certificates for the TLS identity tests, made with python3-cryptography, and their
fingerprints computed here independently of loopgate (so a wrong digest in loopgate cannot
agree with itself).

    ca            "identity test CA" (EC P-256)
    valid         leaf for localhost, gateway.test, 127.0.0.1, signed by ca
    expired       same names, valid until yesterday
    not_yet       same names, valid from tomorrow
    other_name    leaf for other.test only
    dns_only      leaf for localhost and gateway.test: DNS names, no IP address
    ip_only       leaf whose only subjectAltName is IP:127.0.0.1 (CN=ip-only-gateway)
    openclaw      self-signed RSA 2048, CN=openclaw-gateway, no subjectAltName at all
    client_ca     "identity test client CA"
    client        client certificate signed by client_ca
    stranger      client certificate signed by a CA the gateway does not know
"""

import base64
import datetime
import hashlib
import ipaddress
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
SERVER_NAMES = ("localhost", "gateway.test", "127.0.0.1")


class Issued:
    """A certificate and its key on disk, with its pins."""

    def __init__(self, directory, name, cert, key):
        self.cert_obj = cert
        self.key_obj = key
        self.cert = Path(directory) / f"{name}.pem"
        self.key = Path(directory) / f"{name}.key"
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        os.chmod(self.key, 0o600)

    @property
    def sha256_hex(self):
        return hashlib.sha256(self.cert_obj.public_bytes(serialization.Encoding.DER)).hexdigest()

    @property
    def spki_base64(self):
        spki = self.cert_obj.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()

    def leaf_spellings(self):
        """Every way an admin may write this certificate's leaf pin."""
        hex_upper = self.sha256_hex.upper()
        colon = ":".join(hex_upper[i:i + 2] for i in range(0, 64, 2))
        return [self.sha256_hex, hex_upper, colon, colon.lower(), f"sha256:{self.sha256_hex}",
                f"SHA256:{colon}", f"sha256 Fingerprint={colon}"]

    def spki_spellings(self):
        return [self.spki_base64, f"spki-sha256:{self.spki_base64}"]


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(names):
    entries = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _builder(subject, issuer, public_key, not_before, not_after):
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after))


def make_ca(directory, name, common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_builder(_name(common_name), _name(common_name), key.public_key(), NOW - DAY, NOW + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    return Issued(directory, name, cert, key)


def issue(directory, name, ca, common_name, names=SERVER_NAMES, not_before=None, not_after=None, client=False):
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (_builder(_name(common_name), ca.cert_obj.subject, key.public_key(), not_before or NOW - DAY,
                        not_after or NOW + 365 * DAY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
    if names:
        builder = builder.add_extension(_san(names), critical=False)
    return Issued(directory, name, builder.sign(ca.key_obj, hashes.SHA256()), key)


def make_openclaw_like(directory):
    """What the OpenClaw gateway generates for itself: RSA, CN=openclaw-gateway, self-signed, no SAN."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = _name("openclaw-gateway")
    cert = _builder(subject, subject, key.public_key(), NOW - DAY, NOW + 3650 * DAY).sign(key, hashes.SHA256())
    return Issued(directory, "openclaw", cert, key)


class Pki:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.ca = make_ca(directory, "ca", "identity test CA")
        self.valid = issue(directory, "valid", self.ca, "localhost")
        self.expired = issue(directory, "expired", self.ca, "localhost", not_before=NOW - 30 * DAY,
                             not_after=NOW - DAY)
        self.not_yet = issue(directory, "not_yet", self.ca, "localhost", not_before=NOW + DAY,
                             not_after=NOW + 30 * DAY)
        self.other_name = issue(directory, "other_name", self.ca, "other.test", names=("other.test",))
        self.dns_only = issue(directory, "dns_only", self.ca, "localhost", names=("localhost", "gateway.test"))
        self.ip_only = issue(directory, "ip_only", self.ca, "ip-only-gateway", names=("127.0.0.1",))
        self.openclaw = make_openclaw_like(directory)
        self.client_ca = make_ca(directory, "client_ca", "identity test client CA")
        self.client = issue(directory, "client", self.client_ca, "loopgate-client", names=(), client=True)
        stranger_ca = make_ca(directory, "stranger_ca", "somebody else's CA")
        self.stranger = issue(directory, "stranger", stranger_ca, "stranger", names=(), client=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))
