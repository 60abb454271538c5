"""The MQTT sink over TLS to a real Mosquitto with a certificate of a test CA: the CA given, it connects and
publishes; without it, the certificate is refused and health says why."""

from __future__ import annotations

import datetime
import ipaddress
import logging
from pathlib import Path
from types import SimpleNamespace

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.events import wait_until
from support.mosquitto import Broker, needs_mosquitto, subscriber

from core.testing.net import free_port
from plugins.mqtt_events.config import Config
from plugins.mqtt_events.outbox import DiskOutbox
from plugins.mqtt_events.plugin import MqttEvents
from plugins.mqtt_events.publisher import Publisher

pytestmark = needs_mosquitto


def pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def certificates(folder: Path) -> None:
    """``ca.pem`` and ``server.pem``/``server.key`` for 127.0.0.1, signed by that CA."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "B-Connect test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])).issuer_name(ca_name)
              .public_key(key.public_key()).serial_number(2).not_valid_before(now - datetime.timedelta(minutes=5))
              .not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(pem(key))


async def publisher(tmp_path: Path, port: int, **tls) -> tuple[Publisher, DiskOutbox]:
    config = Config(port=port, tls=True, reconnect_max_s=0.3, **tls)
    plugin = MqttEvents(config, SimpleNamespace(data_dir=tmp_path))  # builds the TLS context as at start-up
    _, context = plugin.read_secrets()
    plugin.outbox.open()
    p = Publisher(config, plugin.outbox, dict, logging.getLogger("test.mqtt_tls"), tls=context)
    p.start()
    return p, plugin.outbox


async def test_tls_with_the_broker_ca_publishes_and_without_it_is_refused_with_the_reason(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    certificates(certs)
    broker = Broker(tmp_path / "mosquitto")
    tls_port = free_port()
    with open(broker.config, "a") as f:  # a second listener with TLS; the subscriber keeps the plain one
        f.write(f"listener {tls_port} 127.0.0.1\ncafile {certs / 'ca.pem'}\n"
                f"certfile {certs / 'server.pem'}\nkeyfile {certs / 'server.key'}\n")
    broker.start()
    try:
        async with subscriber(broker.port, "bconnect/#") as got:
            p, outbox = await publisher(tmp_path / "a", tls_port, tls_ca_file=str(certs / "ca.pem"))
            try:
                outbox.put("00000000000000aa", "bconnect/events", b'{"id":"00000000000000aa"}')
                p.wake()
                await wait_until(lambda: got.on("bconnect/events") == [b'{"id":"00000000000000aa"}'], what="over TLS")
                assert p.connected and got.on("bconnect/available") == [b"online"]
            finally:
                await p.stop()
                outbox.close()

            # the system's CAs do not know the test CA: refused, and health would say so
            p, outbox = await publisher(tmp_path / "b", tls_port)
            try:
                await wait_until(lambda: p.reason and "CERTIFICATE_VERIFY_FAILED" in p.reason, what="refused")
                assert not p.connected
            finally:
                await p.stop()
                outbox.close()
    finally:
        broker.stop()
