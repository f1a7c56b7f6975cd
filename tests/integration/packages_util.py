"""Helpers for the package and sequence tests: a second namespace with its own key."""

import hashlib
import os
import sqlite3
import uuid
import secrets


def add_namespace(server, ns):
    """Creates namespace `ns` with a fresh key directly in the server's SQLite database (the store
    keeps only the SHA-256 hex of the key) and returns the key "uuid:key"."""
    uid, secret = str(uuid.uuid4()), secrets.token_hex(32)
    db = sqlite3.connect(os.path.join(server.data_dir, "hotrod.db"), timeout=10)
    try:
        db.execute("INSERT OR IGNORE INTO namespaces (name) VALUES (?)", (ns,))
        db.execute("INSERT INTO credentials (uuid, ns, key_hash) VALUES (?, ?, ?)",
                   (uid, ns, hashlib.sha256(secret.encode()).hexdigest()))
        db.commit()
    finally:
        db.close()
    return "%s:%s" % (uid, secret)
