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

    def put(self, key: str, data: bytes, replace: bool = False) -> bool:
        condition = {} if replace else {"IfNoneMatch": "*"}
        answer = self._request("put_object", key, _EXISTS, Body=data, **condition)
        return not isinstance(answer, str)

    def get(self, key: str, start: int = 0, length: int | None = None) -> bytes | None:
        if length == 0:
            return b"" if self.has(key) else None
        ranged: dict[str, str] = {}
        if start or length is not None:
            last = "" if length is None else str(start + length - 1)
            ranged["Range"] = f"bytes={start}-{last}"
        answer = self._request("get_object", key, _ABSENT | {"InvalidRange"}, **ranged)
        if isinstance(answer, str):  # InvalidRange: it starts past the end, no bytes there
            return b"" if answer == "InvalidRange" else None
        body = answer["Body"]
        try:
            data: bytes = body.read()
        except BotoCoreError as exc:
            raise BlobBackendError(f"S3 get_object of {key}: {exc}") from None
        finally:
            body.close()
        return data

    def has(self, key: str) -> bool:
        return not isinstance(self._request("head_object", key, _ABSENT), str)

    def delete(self, key: str) -> None:
        self._request("delete_object", key, _ABSENT)

    def _request(self, action: str, key: str, expected: frozenset[str], **args: Any) -> Any:
        """The client call's response, or its error code when that is one of `expected`;
        BlobBackendError for any other failure."""
        try:
            return getattr(self.client, action)(Bucket=self.bucket, Key=self._name(key),
                                                **args)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in expected:
                return code
            raise BlobBackendError(f"S3 {action} of {key}: {exc}") from None
        except BotoCoreError as exc:
            raise BlobBackendError(f"S3 {action} of {key}: {exc}") from None

    def close(self) -> None:
        self.client.close()

