"""A resource's stable id: what the grid and a node both compute from a job definition alone.

The cache key (cache.py) includes each file's ETag or the HF commit, which only a listing made with the
job's credentials reveals; the grid never lists anything. The id here is a digest of what the job
*wrote*: type, URL (S3) or repo and revision (HF), and the file list. A node reports the ids of the
entries it holds when it asks for a lease, and the grid prefers a job whose ids it holds
(docs/grid-protocol.md, "Locality"). A changed object under the same URL keeps its id: the preference
is a hint; the node still checks the source and fetches what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

RESOURCE_ID_PATTERN = r"^[0-9a-f]{32}$"
MAX_HELD_RESOURCES = 256  # ids a node reports per lease request (the most recently used first)


def resource_id(kind: str, source: str, revision: str | None, files: Iterable[str] | None) -> str:
    """`kind` S3 or HF; `source` the URL (S3) or repo (HF); `revision` HF's (None: main); `files` None: all."""
    identity = {
        "type": kind,
        "source": source,
        "revision": (revision or "main") if kind == "HF" else None,
        "files": sorted(files) if files else None,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def definition_resource_ids(definition: Any) -> set[str]:
    """The ids of the S3 and HF resources a job definition (Nosana JSON, as stored) names; tolerant of
    any shape, since the grid calls it on definitions it already validated and on nothing else."""
    found: set[str] = set()
    ops = definition.get("ops") if isinstance(definition, dict) else None
    for op in ops if isinstance(ops, list) else []:
        args = op.get("args") if isinstance(op, dict) else None
        resources = args.get("resources") if isinstance(args, dict) else None
        for resource in resources if isinstance(resources, list) else []:
            if not isinstance(resource, dict):
                continue
            kind = resource.get("type")
            source = resource.get("url") if kind == "S3" else resource.get("repo") if kind == "HF" else None
            if not isinstance(source, str):
                continue
            files = resource.get("files")
            revision = resource.get("revision")
            found.add(
                resource_id(
                    str(kind),
                    source,
                    revision if isinstance(revision, str) else None,
                    [f for f in files if isinstance(f, str)] if isinstance(files, list) else None,
                )
            )
    return found
