"""The lab CA and the certificates of each host (``--tls``; DESIGN.md "Ports").

``<dir>/pki/ca.pem`` (+ key), and per host ``<dir>/pki/<host>/{server,client}.{pem,key}`` plus
PKCS#12 keystores ``https-keystore.p12`` / ``https-client-keystore.p12`` like the files JS7 reads
from ``config/private/`` (js7-engine.md §1.4, §1.5). Store passwords are ``jobscheduler``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

STORE_PASSWORD = "jobscheduler"


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JS7 lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as stream:
        stream.write(data)
    os.chmod(path, mode)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def create_ca(pki_dir):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name("JS7 lab CA")).issuer_name(_name("JS7 lab CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write(os.path.join(pki_dir, "ca.pem"), cert.public_bytes(serialization.Encoding.PEM))
    _write(os.path.join(pki_dir, "ca.key"), _key_pem(key), 0o600)
    return {"ca": os.path.join(pki_dir, "ca.pem")}


def _load_ca(pki_dir):
    with open(os.path.join(pki_dir, "ca.pem"), "rb") as stream:
        cert = x509.load_pem_x509_certificate(stream.read())
    with open(os.path.join(pki_dir, "ca.key"), "rb") as stream:
        key = serialization.load_pem_private_key(stream.read(), None)
    return cert, key


def issue_host(pki_dir, host, addresses, names=()):
    """Server and client certificate for one host; returns the file paths."""
    ca_cert, ca_key = _load_ca(pki_dir)
    now = datetime.datetime.now(datetime.timezone.utc)
    out = {"ca": os.path.join(pki_dir, "ca.pem")}
    alt = [x509.DNSName(n) for n in (host,) + tuple(names)]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    for purpose, usage in (("server", ExtendedKeyUsageOID.SERVER_AUTH), ("client", ExtendedKeyUsageOID.CLIENT_AUTH)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(_name(host)).issuer_name(ca_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(ca_key, hashes.SHA256()))
        base = os.path.join(pki_dir, host, purpose)
        _write(base + ".pem", cert.public_bytes(serialization.Encoding.PEM))
        _write(base + ".key", _key_pem(key), 0o600)
        store = "https-keystore.p12" if purpose == "server" else "https-client-keystore.p12"
        _write(os.path.join(pki_dir, host, store),
               pkcs12.serialize_key_and_certificates(host.encode(), key, cert, [ca_cert],
                                                     serialization.BestAvailableEncryption(STORE_PASSWORD.encode())),
               0o600)
        out[purpose + "_cert"] = base + ".pem"
        out[purpose + "_key"] = base + ".key"
        out[purpose + "_p12"] = os.path.join(pki_dir, host, store)
    out["distinguished_name"] = "CN=%s,O=JS7 lab" % host
    return out


# The lab's own client identity: what the lab CLI's probes present and what the inventory offers the
# collection as js7_controller_client_cert / js7_controller_client_key (not a host: no server certificate).
CLIENT_IDENTITY = "ansible"


def issue_client(pki_dir, name=CLIENT_IDENTITY):
    """A client certificate only (extended key usage clientAuth), ``<pki>/<name>/client.{pem,key}``."""
    ca_cert, ca_key = _load_ca(pki_dir)
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    base = os.path.join(pki_dir, name, "client")
    _write(base + ".pem", cert.public_bytes(serialization.Encoding.PEM))
    _write(base + ".key", _key_pem(key), 0o600)
    return {"ca": os.path.join(pki_dir, "ca.pem"), "client_cert": base + ".pem", "client_key": base + ".key",
            "distinguished_name": distinguished_name(name)}


def distinguished_name(name):
    """The DN of a lab certificate as the engine renders a peer certificate's subject (CN first)."""
    return "CN=%s,O=JS7 lab" % name


def client_files(lab_dir, name=CLIENT_IDENTITY):
    """(cert, key) of a lab client identity: a host's ``client.pem`` or the lab's own ``ansible`` one."""
    base = os.path.join(lab_dir, "pki", name, "client")
    return base + ".pem", base + ".key"
