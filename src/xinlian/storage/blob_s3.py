"""The S3-compatible blob backend (AWS S3, Ceph's object gateway, MinIO, moto's S3 server).

Objects go to one bucket under an optional key prefix. A put is one conditional PUT
(`If-None-Match: *`), so a chunk that is already there is neither sent twice nor
overwritten; a server that ignores the condition overwrites the object with the same bytes,
which is harmless for content-addressed keys. An S3 PUT is atomic (an object is whole or
absent) and durable when the server answers. Credentials come from boto3's usual chain
(environment, shared config, instance role), never from the node's config file.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from xinlian.storage.blob_backends import split_key
from xinlian.storage.errors import BlobBackendError

_ABSENT = frozenset({"404", "NoSuchKey", "NotFound"})
_EXISTS = frozenset({"412", "PreconditionFailed"})


class S3Backend:
    """Objects in `bucket` at `prefix + key`, through a boto3 client made from the
    arguments (or `client`, built by the caller)."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, max_connections: int = 16,
                 client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            config=Config(max_pool_connections=max_connections,
                          retries={"max_attempts": 3, "mode": "standard"}))

    def _name(self, key: str) -> str:
        split_key(key)
        return self.prefix + key

    def put(self, key: str, data: bytes) -> bool:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                                   IfNoneMatch="*")
        except ClientError as exc:
            if _code(exc) in _EXISTS:
                return False
            raise BlobBackendError(f"S3 put of {key}: {exc}") from None
        except BotoCoreError as exc:
            raise BlobBackendError(f"S3 put of {key}: {exc}") from None
        return True

    def get(self, key: str, start: int = 0, length: int | None = None) -> bytes | None:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key)}
        if length == 0:
            return b"" if self.has(key) else None
        if start or length is not None:
            last = "" if length is None else str(start + length - 1)
            args["Range"] = f"bytes={start}-{last}"
        try:
            body = self.client.get_object(**args)["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                return None
            if _code(exc) == "InvalidRange":  # starts past the end: no bytes there
                return b""
            raise BlobBackendError(f"S3 get of {key}: {exc}") from None
        except BotoCoreError as exc:
            raise BlobBackendError(f"S3 get of {key}: {exc}") from None
        return data

    def has(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if _code(exc) in _ABSENT:
                return False
            raise BlobBackendError(f"S3 head of {key}: {exc}") from None
        except BotoCoreError as exc:
            raise BlobBackendError(f"S3 head of {key}: {exc}") from None
        return True

    def close(self) -> None:
        self.client.close()


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
