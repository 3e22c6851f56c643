"""What a job's `resources` entry asks for, resolved to a fetchable source, and the checks on it.

A resource names where its files come from; the host fetches them, so for grid jobs the source
host must be public (an S3 URL naming 127.0.0.1, a LAN or link-local address is an SSRF path) and the
file names must stay inside the resource (no `..`, no absolute paths). Hosts the user configured
(`models.s3_endpoint_url`, `models.hf_endpoint` / HF_ENDPOINT) and `models.trusted_hosts` are trusted.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from hostapp.config.settings import ModelSettings
from hostapp.jobs.definition import Resource, resource_file_name
from hostapp.jobs.images import non_public_host_problem

DEFAULT_HF_ENDPOINT = "https://huggingface.co"
# The bucket name of a URL whose host serves one bucket at its root: s3.py takes it out of the path.
BUCKET_AT_HOST_ROOT = "hostapp-bucket-at-host-root"


class ResourceError(Exception):
    """A resource cannot be fetched or mounted; str() is one line that says why and what to do."""


@dataclass(frozen=True)
class S3Credentials:
    """The job's own IAM keys: used for its fetch only, never stored, logged or shown (repr hides them)."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class ResourceSource:
    """One S3 or HF resource, resolved: where its files come from (credentials kept out of repr)."""

    kind: Literal["S3", "HF"]
    label: str  # what the job wrote (URL or repo), for messages and the plan
    target: str
    files: tuple[str, ...] | None  # None: every file under the prefix / in the repo
    allow_write: bool = False
    # S3
    endpoint_url: str | None = None  # None: AWS
    bucket: str = ""
    prefix: str = ""
    region: str | None = None
    credentials: S3Credentials | None = field(default=None, repr=False)
    job_host: str | None = None  # the host the job named (checked for grid jobs), host[:port]
    # HF
    repo: str = ""
    revision: str = "main"
    token: str | None = field(default=None, repr=False)


def hf_endpoint(settings: ModelSettings) -> str:
    return (settings.hf_endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/")


def resolve(resource: Resource, settings: ModelSettings) -> ResourceSource:
    """The fetchable source of an S3 or HF resource; ResourceError for a URL this host cannot use."""
    target = str(resource.target)
    files = tuple(resource.files) if resource.files else None
    allow_write = bool(resource.allowWrite)
    if resource.type == "HF":
        return ResourceSource(
            "HF",
            str(resource.repo),
            target,
            files,
            allow_write,
            repo=str(resource.repo),
            revision=resource.revision or "main",
            token=resource.accessToken or settings.hf_token,
        )
    url = str(resource.url)
    parts = urlsplit(url)
    iam = resource.IAM or {}
    credentials = S3Credentials(iam["ACCESS_KEY_ID"], iam["SECRET_ACCESS_KEY"]) if iam.get("ACCESS_KEY_ID") else None
    region = iam.get("REGION") or None
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ResourceError(f"S3 resource {url}: no bucket in the URL (use s3://bucket/prefix)")
        return ResourceSource(
            "S3",
            url,
            target,
            files,
            allow_write,
            endpoint_url=settings.s3_endpoint_url,
            bucket=parts.netloc,
            prefix=parts.path.strip("/"),
            region=region,
            credentials=credentials,
        )
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ResourceError(f"S3 resource {url}: use s3://bucket/prefix or https://host/bucket/prefix")
    if parts.username or parts.password:
        raise ResourceError(f"S3 resource {parts.hostname}: credentials belong in IAM, not in the URL")
    path = parts.path.strip("/")
    if resource.bucket:
        bucket, prefix = resource.bucket, path
    elif _path_style_host(parts.hostname, parts.port):
        bucket, _, prefix = path.partition("/")
    else:  # models.nosana.io, *.r2.dev: the host serves one bucket at its root
        bucket, prefix = BUCKET_AT_HOST_ROOT, path
    if not bucket:
        raise ResourceError(f"S3 resource {url}: no bucket (use https://host/bucket/prefix or the field 'bucket')")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return ResourceSource(
        "S3",
        url,
        target,
        files,
        allow_write,
        endpoint_url=f"{parts.scheme}://{parts.netloc}",
        bucket=bucket,
        prefix=prefix.strip("/"),
        region=region,
        credentials=credentials,
        job_host=f"{host}:{port}",
    )


def _path_style_host(hostname: str, port: int | None) -> bool:
    """An S3 API endpoint that names the bucket in the path: AWS's own hosts, an address, or a host:port
    (MinIO, a mirror). A plain named host (models.nosana.io, pub-….r2.dev) serves one bucket at its root."""
    name = hostname.lower()
    if port is not None or name == "localhost" or name.endswith(".amazonaws.com"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def check_host_for_grid(source: ResourceSource, trusted_hosts: list[str]) -> None:
    """Refuse a job-named host that resolves to a loopback, LAN or link-local address (the SSRF rule)."""
    host = source.job_host
    if host is None:
        return  # AWS or an endpoint the user configured
    problem = non_public_host_problem(host, trusted_hosts)
    if problem is not None:
        raise ResourceError(
            f"resource {source.label}: grid jobs may not fetch from {host.rsplit(':', 1)[0]}: it {problem}; "
            "to allow a server you run yourself, add it to the setting models.trusted_hosts"
        )


def safe_file_name(source: ResourceSource, name: str) -> str:
    """A remote file name as a path inside the resource; ResourceError when it would escape it."""
    try:
        return resource_file_name(name)
    except ValueError as exc:
        raise ResourceError(f"resource {source.label}: file {name[:200]!r} {exc}") from None
