"""The local stack's data on disk, so that a stop, a crash or `kill -9` loses nothing that was answered.

moto keeps everything in memory. Two files in `<state dir>/data` keep it:

- `snapshot.pickle`: moto's backends (DynamoDB with its streams, Cognito, SNS, SQS, Secrets Manager),
  pickled under the emulator's request lock, so that no request is half applied in it. moto has no
  snapshot of its own; its objects pickle, but for its locks and Cognito's RSA key, which are rebuilt.
- `journal-<n>.ndjson`: every request that changed a backend since that snapshot, appended after moto
  applied it and before its answer leaves (under the same lock, so the journal's order is the order the
  requests took effect). A restart loads the snapshot and replays the journal through moto's own request
  handling. A `kill -9` can cut only the last line, whose request had not been answered.

moto's recorder (`MOTO_ENABLE_RECORDING`) also writes requests down, but every read too, before they run
(so in arrival order, not in the order concurrent requests took effect), and never compacts: a journal of
mutations taken under the lock, with snapshots, replays in seconds and replays exactly.

A new snapshot is taken on a clean stop and whenever the journal has grown past JOURNAL_LIMIT entries;
the journal then starts again. Replayed requests that fail are skipped: their effect, if any, is in the
snapshot (an SQS message deleted twice, say). The poller's stream position is kept beside them
(StreamCheckpoint): the rollups' per-event markers make a record delivered again harmless.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import pickle
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("local_stack.persistence")

SERVICES = ("dynamodb", "cognito-idp", "sns", "sqs", "secretsmanager")
JOURNAL_LIMIT = 2_000
FORMAT = 1
# Actions that never change a backend (any other request that succeeds is written down).
_READS = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "TransactGet", "Receive", "Admin" + "Get")


class IncompatibleState(RuntimeError):
    """The data was written by another version of the template or of moto: start afresh to use it."""


def action_of(headers: Any, query_string: str, body: bytes) -> str | None:
    """The API action of a request: X-Amz-Target (JSON protocols) or Action= (query protocol)."""
    target = headers.get("X-Amz-Target") or headers.get("x-amz-target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    for source in (query_string, body.decode("utf-8", "replace") if body else ""):
        action = parse_qs(source).get("Action")
        if action:
            return action[0]
    return None


def mutates(action: str | None) -> bool:
    return action is not None and not action.startswith(_READS)


# --- Pickling moto's objects ----------------------------------------------------------------------------


def _rsa_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


class _Pickler(pickle.Pickler):
    """Locks become new locks; a private key its PEM bytes."""

    _LOCKS = (type(threading.Lock()), type(threading.RLock()))

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, self._LOCKS):
            return (threading.RLock if "RLock" in type(obj).__name__ else threading.Lock), ()
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

        if isinstance(obj, RSAPrivateKey):
            from cryptography.hazmat.primitives import serialization

            pem = obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return _rsa_key, (pem,)
        return NotImplemented


def _backends() -> Iterator[tuple[tuple[str, str, str], Any]]:
    from moto.backends import get_backend

    for service in SERVICES:
        for account, regions in get_backend(service).items():  # type: ignore[call-overload]
            for region, backend in regions.items():
                yield (service, account, region), backend


def _forget_caches(backend: Any) -> None:
    """moto_speedups' per-table caches rebuild themselves; they are not data."""
    for table in getattr(backend, "tables", {}).values():
        table.__dict__.pop("_speedup_partitions", None)


# --- The store --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


class Store:
    """The snapshot and the journal of one state directory."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        self.fingerprint = fingerprint
        self.generation = 0
        self.entries = 0
        self._journal: io.BufferedWriter | None = None
        self._replaying = False

    @property
    def snapshot_path(self) -> Path:
        return self.directory / "snapshot.pickle"

    def journal_path(self, generation: int) -> Path:
        return self.directory / f"journal-{generation}.ndjson"

    def exists(self) -> bool:
        return self.snapshot_path.exists() or any(self.directory.glob("journal-*.ndjson"))

    # Loading -------------------------------------------------------------------------------------------

    def load(self) -> int:
        """Restores the snapshot into moto and replays its journal; returns the requests replayed."""
        from moto.backends import get_backend

        if self.snapshot_path.exists():
            with self.snapshot_path.open("rb") as stream:
                try:
                    saved = pickle.load(stream)  # noqa: S301 - our own file, in our own state directory
                except Exception as error:
                    raise IncompatibleState(f"{self.snapshot_path} cannot be read ({error})") from error
            self._check(saved)
            for (service, account, region), backend in saved["backends"].items():
                get_backend(service)[account][region] = backend
            self.generation = int(saved["journal"])
        else:
            generations = sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("journal-*.ndjson"))
            self.generation = generations[0] if generations else 0
        replayed = self._replay(self.journal_path(self.generation))
        self.entries = replayed
        return replayed

    def _check(self, saved: dict[str, Any]) -> None:
        import moto

        found = (saved.get("format"), saved.get("moto"), saved.get("fingerprint"))
        wanted = (FORMAT, moto.__version__, self.fingerprint)
        if found != wanted:
            what = "the template's tables or identity" if found[2] != wanted[2] else "moto or its format"
            raise IncompatibleState(f"the saved data was made for another version of {what}")

    def _replay(self, path: Path) -> int:
        if not path.exists():
            return 0
        count = failed = 0
        self._replaying = True
        try:
            with path.open("rb") as stream:
                lines = stream.read().splitlines()
            for number, line in enumerate(lines):
                try:
                    entry = json.loads(line)
                except ValueError:
                    if number == len(lines) - 1:
                        log.warning("the journal's last line was cut (a crash while writing it): skipped")
                        break
                    raise IncompatibleState(f"{path}: line {number + 1} is not a journal entry") from None
                request = Recorded(entry["m"], entry["u"], entry["h"], base64.b64decode(entry["b"]))
                try:
                    status = _dispatch(request)
                except Exception:
                    log.exception(
                        "a journaled request could not be replayed: %s %s", request.method, request.url
                    )
                    status = 599
                if status >= 400:
                    failed += 1
                count += 1
        finally:
            self._replaying = False
        if failed:
            log.info(
                "%d of %d replayed requests failed again (their effect was saved already)", failed, count
            )
        return count

    # Recording -----------------------------------------------------------------------------------------

    def open_journal(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._journal = self.journal_path(self.generation).open("ab")

    def record(self, request: Recorded) -> None:
        """Appends one applied request (called under the request lock, before its answer is sent)."""
        if self._journal is None or self._replaying:
            return
        entry = {
            "m": request.method,
            "u": request.url,
            "h": request.headers,
            "b": base64.b64encode(request.body).decode(),
        }
        self._journal.write(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
        # In the kernel's buffers: a killed process loses nothing (only a power cut could).
        self._journal.flush()
        self.entries += 1

    def snapshot(self) -> None:
        """Writes a new snapshot and starts a new journal (call under the request lock)."""
        import moto

        backends = {}
        for key, backend in _backends():
            _forget_caches(backend)
            backends[key] = backend
        saved = {
            "format": FORMAT,
            "moto": moto.__version__,
            "fingerprint": self.fingerprint,
            "journal": self.generation + 1,
            "backends": backends,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".snapshot-")
        try:
            with os.fdopen(handle, "wb") as stream:
                _Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL).dump(saved)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.snapshot_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        old = self.generation
        self.generation += 1
        if self._journal is not None:
            self._journal.close()
            self.open_journal()
        self.journal_path(old).unlink(missing_ok=True)
        self.entries = 0

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def _dispatch(request: Recorded) -> int:
    """Sends a journaled request through moto's own handling, in process; returns its status."""
    from botocore.awsrequest import AWSPreparedRequest, HTTPHeaders
    from moto.core.botocore_stubber import BotocoreStubber

    headers = HTTPHeaders()
    for name, value in request.headers.items():
        headers[name] = value
    prepared = AWSPreparedRequest(
        method=request.method,
        url=_aws_url(request),
        headers=headers,
        body=request.body,
        stream_output=False,
    )
    result = BotocoreStubber().process_request(prepared)
    return 599 if result is None else int(result[0])


# X-Amz-Target prefixes of the JSON protocols, for requests that are not signed (Cognito's InitiateAuth).
_TARGETS = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "AmazonSQS": "sqs",
    "secretsmanager": "secretsmanager",
}


def _aws_url(request: Recorded) -> str:
    """The request's URL on the service's AWS host (a request may have come to the server's port): the
    service and region are in the SigV4 credential scope, or the service in X-Amz-Target."""
    from urllib.parse import urlsplit

    parts = urlsplit(request.url)
    if parts.hostname and parts.hostname.endswith("amazonaws.com"):
        return request.url
    headers = {name.lower(): value for name, value in request.headers.items()}
    scope = headers.get("authorization", "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    if len(scope) >= 5:
        region, service = scope[2], scope[3]
    else:
        region, service = "us-east-1", _TARGETS.get(headers.get("x-amz-target", "").split(".", 1)[0], "")
    if not service:
        raise ValueError(f"no service for a journaled {request.method} {request.url}")
    query = f"?{parts.query}" if parts.query else ""
    return f"https://{service}.{region}.amazonaws.com{parts.path or '/'}{query}"


# --- The stream poller's position ----------------------------------------------------------------------


class StreamCheckpoint:
    """The last sequence number delivered per shard, written atomically after each batch."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self.positions: dict[str, str] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            self.positions = {}

    def advance(self, shard_id: str, sequence: str) -> None:
        with self._lock:
            self.positions[shard_id] = sequence
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-")
            with os.fdopen(handle, "w") as stream:
                json.dump(self.positions, stream)
            os.replace(temporary, self.path)


_STATEFUL = {
    "AWS::DynamoDB::Table",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::SNS::Topic",
}


def template_fingerprint(resources: dict[str, Any]) -> str:
    """What the saved data depends on: the tables' keys and indexes, the pool's schema, the names."""
    kept = {name: resource for name, resource in resources.items() if resource.get("Type") in _STATEFUL}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


@contextmanager
def suppressed(store: Store | None) -> Iterator[None]:
    """Requests made inside the block are not journaled (the snapshot is taken right after)."""
    if store is None:
        yield
        return
    previous, store._replaying = store._replaying, True
    try:
        yield
    finally:
        store._replaying = previous


JournalHook = Callable[[Recorded], None]
