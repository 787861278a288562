"""A provider's ``ca_file``: the PEM certificates of the private CA(s) its upstream's TLS chains to.

Read when the mapping is loaded (off the event loop), so a missing or unreadable file is a mapping
error naming ``providers.<name>.ca_file``, and the edge builds its trust store from the bytes kept
in ``Provider.ca_pem`` without touching the disk.
"""

from __future__ import annotations

import os

MAX_CA_FILE = 4 << 20  # a CA bundle is some KB; the system's whole store is ~200 KB


def read_ca_file(path: str) -> bytes:
    """The file's PEM bytes, holding at least one parseable certificate; ``ValueError`` saying why not."""
    if not os.path.isabs(path):
        raise ValueError(f"want an absolute path, not {path!r}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CA_FILE + 1)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_CA_FILE:
        raise ValueError(f"{path} is larger than {MAX_CA_FILE} bytes")
    from cryptography import x509  # only mappings that name a ca_file need it

    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise ValueError(f"{path} holds no PEM certificate")
    return data
