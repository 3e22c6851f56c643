"""A real S3-compatible server (moto's server mode) on loopback, and buckets of generated files."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

MB = 1024 * 1024


@dataclass
class S3Server:
    url: str  # http://127.0.0.1:PORT
    client: Any  # boto3 client with test keys (moto accepts any)
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def bucket(self, public: bool = True) -> str:
        """A new bucket; public: anyone may list and read it (as for Nosana's public model buckets)."""
        name = f"models-{secrets.token_hex(4)}"
        self.client.create_bucket(Bucket=name)
        if public:
            statement = {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
            }
            policy = {"Version": "2012-10-17", "Statement": [statement]}
            self.client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        return name

    def put(self, bucket: str, key: str, size: int, multipart: bool = False) -> bytes:
        data = os.urandom(size)
        if multipart:  # as `aws s3 cp` stores big files: the ETag is not the MD5 then
            import io

            from boto3.s3.transfer import TransferConfig

            self.client.upload_fileobj(
                io.BytesIO(data),
                bucket,
                key,
                Config=TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB),
            )
        else:
            self.client.put_object(Bucket=bucket, Key=key, Body=data)
        self.objects[(bucket, key)] = data
        return data


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    try:
        yield S3Server(url, client)
    finally:
        server.stop()
