"""Pulls from a real local registry (Debian's docker-registry on 127.0.0.1): progress, digest pinning, cache."""

from __future__ import annotations

import pytest

from hostapp.jobs.definition import GridJob, parse_job_definition
from tests.support import push_fresh_image

pytestmark = pytest.mark.docker


def test_pull_with_progress_digest_pinning_and_cache_pruning(
    registry, make_runner, docker_client, busybox_image
) -> None:  # type: ignore[no-untyped-def]
    ref = f"{registry}/hostapp-test/busybox:pull"
    pinned = push_fresh_image(docker_client, busybox_image, ref)  # name@sha256:…
    runner, events = make_runner()
    runner.images.trusted_registries.add(registry)  # a loopback registry: refused for grid jobs unless trusted
    try:
        definition = parse_job_definition(
            {"ops": [{"type": "container/run", "id": "p", "args": {"image": pinned, "cmd": ["echo", "pulled"]}}]}
        )
        result = runner.run(GridJob("pull-1", 1, 1, 120, definition))
        assert result.status == "succeeded", result.reason
        assert result.ops[0].log_tail == "pulled"
        progress = events.of("job.pull.progress")
        assert progress and progress[-1]["finished"] is True
        assert progress[-1]["layers_total"] >= 1 and progress[-1]["layers_done"] >= 1
        assert progress[-1]["bytes_total"] > 0
        assert [image.ref for image in runner.images.tracked()] == [pinned]

        # A wrong digest is refused by the registry: the job fails with the reason, nothing raises.
        wrong = pinned.split("@")[0] + "@sha256:" + "0" * 64
        bad = parse_job_definition(
            {"ops": [{"type": "container/run", "id": "p", "args": {"image": wrong, "cmd": ["true"]}}]}
        )
        failed = runner.run(GridJob("pull-2", 1, 1, 60, bad))
        assert failed.status == "failed" and "not found" in (failed.reason or "")

        # Pruning to a zero budget removes what hostapp pulled, never the user's own images.
        runner.images.budget_bytes = 0
        assert runner.images.prune() == [pinned]
        assert runner.images.tracked() == []
        docker_client.images.get(busybox_image)  # still there
    finally:
        for image in docker_client.images.list(name=f"{registry}/hostapp-test/busybox"):
            docker_client.images.remove(image.id, force=True)


def test_each_pull_keeps_the_cache_within_its_budget(registry, make_runner, docker_client, busybox_image) -> None:  # type: ignore[no-untyped-def]
    """After a pull, the least recently used images hostapp pulled go until the cache fits its budget."""
    import docker.errors

    first, second = (push_fresh_image(docker_client, busybox_image, f"{registry}/hostapp-test/lru-{n}:v") for n in "12")
    runner, _ = make_runner()
    runner.images.trusted_registries.add(registry)

    def run(ref: str, job_id: str) -> None:
        definition = parse_job_definition(
            {"ops": [{"type": "container/run", "id": "p", "args": {"image": ref, "cmd": ["true"]}}]}
        )
        result = runner.run(GridJob(job_id, 1, 1, 120, definition))
        assert result.status == "succeeded", result.reason

    try:
        run(first, "lru-1")
        (cached,) = runner.images.tracked()
        runner.images.budget_bytes = cached.size * 3 // 2  # room for one such image, not two
        run(second, "lru-2")
        assert [image.ref for image in runner.images.tracked()] == [second]
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(first)
        docker_client.images.get(second)
        docker_client.images.get(busybox_image)  # the user's own image is never pruned

        # A pre-pulled image is pinned: the next pull over budget removes the others, never it.
        assert runner.images.prepull([first]) == {}
        assert [image.ref for image in runner.images.tracked()] == [first]  # `second` went, LRU
        run(second, "lru-3")
        assert sorted(image.ref for image in runner.images.tracked()) == sorted([first, second])
        docker_client.images.get(first)
    finally:
        for ref in (first, second):
            for image in docker_client.images.list(name=ref.split("@")[0]):
                docker_client.images.remove(image.id, force=True)
