"""Runs a job's ops in hardened containers, records everything in the store, and recovers after a crash.

`run()` never raises for what the outside world does (engine down, image missing, pull denied, disk
full, a job that misbehaves): those end as a JobResult with status "failed" and the reason.

Preemption API (for the scheduler/node, called from any thread while `run()` is in progress):
- `freeze(job_id)`: docker pause (cgroup freezer). The job keeps its memory and GPU allocation but
  uses no CPU/GPU time; frozen time does not count against the job's timeout.
- `thaw(job_id)`: docker unpause; the job continues where it was.
- `stop(job_id)`: SIGTERM, the grace period from settings, then SIGKILL (a frozen job is thawed
  first so it can handle SIGTERM); the job ends with status "stopped" and later ops do not run.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits, ModelSettings, OutputSettings
from hostapp.events import EventBus
from hostapp.jobs import sandbox
from hostapp.jobs.collect import extract_output
from hostapp.jobs.definition import (
    CreateVolumeOp,
    GridJob,
    JobDefinitionError,
    LiteralError,
    RunOp,
    effective_command,
    effective_entrypoint,
    execution_order,
    parse_job_definition,
    redacted_json,
    resolve_run_args,
)
from hostapp.jobs.definition import resources as job_resources
from hostapp.jobs.images import ImageCache, PullError
from hostapp.jobs.joblog import BoundedLog, LineSplitter
from hostapp.jobs.ownership import current_owner, owner_alive
from hostapp.jobs.results import ResultExtractor, ResultValue
from hostapp.jobs.retention import JobOutputs
from hostapp.resources.cache import ModelCache
from hostapp.resources.spec import ResourceError, resolve
from hostapp.store import Store

log = logging.getLogger(__name__)

STREAM_TYPES = {0: "stdin", 1: "stdout", 2: "stderr"}
DISK_CHECK_SECONDS = 3.0
RECONCILE_STOPPED = "hostapp restarted while the op was running; the container was stopped (policy: stop)"
UNFINISHED = ("running", "queued")  # job statuses that still need an end


@dataclass
class OpResult:
    op_id: str
    status: str  # succeeded / failed / stopped / skipped
    exit_code: int | None = None
    oom_killed: bool = False
    reason: str | None = None
    results: dict[str, ResultValue] | None = None
    log_tail: str = ""
    log_truncated: bool = False
    output_dir: str | None = None
    output_files: list[str] = field(default_factory=list)
    restarts: int = 0
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def duration_seconds(self) -> float:
        if self.started_at is None or self.ended_at is None:
            return 0.0
        return self.ended_at - self.started_at


@dataclass
class JobResult:
    job_id: str
    attempt: int
    status: str  # succeeded / failed / stopped
    reason: str | None = None
    ops: list[OpResult] = field(default_factory=list)
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def duration_seconds(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        for op, raw in zip(self.ops, data["ops"], strict=True):
            raw["duration_seconds"] = round(op.duration_seconds, 3)
        return data


class _OpFailed(Exception):
    """Ends the current op as failed with a user-facing reason."""


@dataclass
class _Handle:
    container_id: str | None = None
    frozen_since: float | None = None
    frozen_total: float = 0.0
    stop_requested: bool = False
    fail_reason: str | None = None  # set when the runner itself ends the job (a limit broken)
    volumes: set[str] = field(default_factory=set)  # this attempt's volumes, for the disk limit
    lock: threading.Lock = field(default_factory=threading.Lock)
    grid: bool = True  # a stranger's job: images under ImageCache.admit_for_grid's rules
    # op id -> [(container target, model cache entry, per-job volume for allowWrite or None)]
    model_mounts: dict[str, list[tuple[str, str, str | None]]] = field(default_factory=dict)


class JobRunner:
    def __init__(
        self,
        docker_client: Any,
        limits: JobLimits,
        paths: AppPaths,
        bus: EventBus,
        store: Store,
        instance_id: str,
        image_cache_budget_mb: int = 40_960,
        outputs: OutputSettings | Callable[[], OutputSettings] | None = None,
        owner: str | None = None,
        models: ModelSettings | Callable[[], ModelSettings] | None = None,
    ) -> None:
        self._client = docker_client
        self._api = docker_client.api
        self.limits = limits
        self.paths = paths
        self.bus = bus
        self.store = store
        self.instance_id = instance_id
        self.owner = owner or current_owner()  # marks every job this runner starts (ownership.py)
        self.images = ImageCache(self._api, store, bus, image_cache_budget_mb)
        self.models = ModelCache(paths.cache / "models", models, publish=bus.publish)
        self.outputs = JobOutputs(
            paths.jobs_dir, outputs or OutputSettings(), store, active=lambda: set(self.running_job_ids())
        )
        self._handles: dict[str, _Handle] = {}
        self._handles_lock = threading.Lock()

    # ================================================================ running

    def run(self, job: GridJob, gpu_uuid: str | None = None, source: str = "grid") -> JobResult:
        started = time.time()
        result = JobResult(job.job_id, job.attempt, "running", started_at=started)
        handle = _Handle(grid=source != "local")
        with self._handles_lock:
            self._handles[job.job_id] = handle
        self._record_job_start(job, source, started)
        self.bus.publish("job.started", job_id=job.job_id, attempt=job.attempt, gpu_uuid=gpu_uuid)
        cleanup: list[tuple[str, str]] = []  # ("volume"|"network", name)
        try:
            self._run_ops(job, gpu_uuid, handle, result, cleanup)
        except Exception as exc:  # the app keeps running whatever the engine does
            log.exception("job %s failed unexpectedly", job.job_id)
            result.status, result.reason = "failed", _engine_reason(exc)
        finally:
            self._cleanup(cleanup)
            self.models.release(job.job_id)  # its containers are gone: its models may be evicted again
            with self._handles_lock:
                self._handles.pop(job.job_id, None)
        result.ended_at = time.time()
        self._record_job_end(result)
        self.bus.publish(
            "job.finished",
            job_id=job.job_id,
            attempt=job.attempt,
            status=result.status,
            reason=result.reason,
            duration_seconds=result.duration_seconds,
        )
        return result

    def _run_ops(
        self, job: GridJob, gpu_uuid: str | None, handle: _Handle, result: JobResult, cleanup: list[tuple[str, str]]
    ) -> None:
        definition = job.definition
        deadline = time.monotonic() + job.timeout_seconds
        results_by_op: dict[str, dict[str, ResultValue]] = {}
        volumes: dict[str, str] = {}
        network: str | None = None
        failed: str | None = None
        try:
            self._prepare_models(job, handle, cleanup)
        except ResourceError as exc:  # refused or failed before any container started
            failed = "model resources not ready"
            stopped = handle.stop_requested
            result.status, result.reason = ("stopped" if stopped else "failed"), f"resources: {exc}"
        for op in execution_order(definition):
            if failed is not None or handle.stop_requested:
                skipped = OpResult(op.id, "skipped", reason=failed or "job stopped")
                result.ops.append(skipped)
                self._record_op(job, skipped, None)
                continue
            if isinstance(op, CreateVolumeOp):
                name = sandbox.resource_name(job.job_id, job.attempt, f"vol-{op.args.name}")
                self._api.create_volume(
                    name,
                    labels=sandbox.job_labels(
                        self.instance_id, job.job_id, job.attempt, "volume", op.id, owner=self.owner
                    ),
                )
                cleanup.append(("volume", name))
                handle.volumes.add(name)
                volumes[op.args.name] = name
                now = time.time()
                op_result = OpResult(op.id, "succeeded", started_at=now, ended_at=now)
                self._record_op(job, op_result, None)
            else:
                if job.network and network is None:
                    network = self._create_network(job)
                    cleanup.append(("network", network))
                work_volume = sandbox.resource_name(job.job_id, job.attempt, "work")
                if ("volume", work_volume) not in cleanup:
                    cleanup.append(("volume", work_volume))
                    handle.volumes.add(work_volume)
                op_result = self._run_op(
                    job, op, gpu_uuid, handle, deadline, results_by_op, volumes, network, work_volume
                )
                if op_result.results is not None:
                    results_by_op[op.id] = op_result.results
            result.ops.append(op_result)
            if op_result.status != "succeeded":
                failed = f"op {op.id} {op_result.status}"
                result.status = "stopped" if op_result.status == "stopped" else "failed"
                result.reason = f"op {op.id}: {op_result.reason}" if op_result.reason else failed
        if result.status == "running":
            result.status = "succeeded"

    def _prepare_models(self, job: GridJob, handle: _Handle, cleanup: list[tuple[str, str]]) -> None:
        """Fetch (or find) the job's S3/HF resources in the model cache, pinned until the job ends."""
        found = job_resources(job.definition)
        if not found:
            return
        settings = self.models.settings()
        sources = [resolve(resource, settings) for _, _, resource in found]
        fetched = self.models.prepare(job.job_id, sources, grid=handle.grid, cancelled=lambda: handle.stop_requested)
        for (op, index, _), source, stats in zip(found, sources, fetched, strict=True):
            volume: str | None = None
            if source.allow_write:  # a per-job copy: the shared entry is never written
                volume = sandbox.resource_name(job.job_id, job.attempt, f"res-{op.id}-{index}")
                self._api.create_volume(
                    volume,
                    labels=sandbox.job_labels(self.instance_id, job.job_id, job.attempt, "volume", op.id, self.owner),
                )
                cleanup.append(("volume", volume))
                handle.volumes.add(volume)
            handle.model_mounts.setdefault(op.id, []).append((source.target, str(stats.path), volume))

    def _fill_model_volumes(self, container_id: str, mounts: list[tuple[str, str, str | None]]) -> None:
        """Copy allowWrite resources into their per-job volumes through the created (not started) container."""
        import tarfile
        import tempfile

        for target, entry, volume in mounts:
            if volume is None:
                continue
            with tempfile.TemporaryFile() as archive:
                with tarfile.open(fileobj=archive, mode="w") as tar:
                    for item in sorted(Path(entry).iterdir()):
                        tar.add(item, arcname=item.name, filter=_writable_member)
                archive.seek(0)
                self._api.put_archive(container_id, target, archive)

    def _run_op(
        self,
        job: GridJob,
        op: RunOp,
        gpu_uuid: str | None,
        handle: _Handle,
        deadline: float,
        results_by_op: dict[str, dict[str, ResultValue]],
        volumes: dict[str, str],
        network: str | None,
        work_volume: str,
    ) -> OpResult:
        op_result = OpResult(op.id, "running", started_at=time.time())
        container_id: str | None = None
        try:
            try:
                args = resolve_run_args(op.args, job.definition, results_by_op)
            except LiteralError as exc:
                raise _OpFailed(f"cannot resolve a literal: {exc}") from None
            if args.gpu and gpu_uuid is None:
                raise _OpFailed("cannot run GPU job: no GPU is assigned to it on this machine")
            auth = _auth_config(args)
            image = str(args.image)
            labels = sandbox.job_labels(self.instance_id, job.job_id, job.attempt, "container", op.id, owner=self.owner)
            spec = sandbox.OpSandbox(
                image=image,
                command=effective_command(args),
                entrypoint=effective_entrypoint(args),
                env=dict(args.env or {}),
                work_dir=args.work_dir,
                work_volume=work_volume,
                work_mount=args.output or sandbox.DEFAULT_WORK_MOUNT,
                job_volumes={volumes[v.name]: v.dest for v in args.volumes or []},
                network=network,
                gpu_uuid=gpu_uuid if args.gpu else None,
                labels=labels,
                model_mounts={t: entry for t, entry, vol in handle.model_mounts.get(op.id, []) if vol is None},
                model_root=str(self.models.entries_dir),
                model_volumes={vol: t for t, _, vol in handle.model_mounts.get(op.id, []) if vol is not None},
            )
            name = sandbox.resource_name(job.job_id, job.attempt, f"op-{op.id}")
            container_id = self._create(spec, name, auth, job.job_id, handle.grid)
            self._fill_model_volumes(container_id, handle.model_mounts.get(op.id, []))
            handle.container_id = container_id
            self._record_op(job, op_result, container_id)
            self._execute(job, op, container_id, handle, deadline, op_result)
            if args.output and op_result.status in ("succeeded", "failed"):
                self._collect_output(job.job_id, job.attempt, op.id, container_id, args.output, op_result)
        except _OpFailed as exc:
            op_result.status, op_result.reason = "failed", str(exc)
        except Exception as exc:
            log.info("op %s of job %s failed: %s", op.id, job.job_id, exc)
            op_result.status, op_result.reason = "failed", _engine_reason(exc)
        finally:
            handle.container_id = None
            if container_id is not None:
                self._remove_container(container_id)
            op_result.ended_at = time.time()
            self._record_op(job, op_result, container_id)
        return op_result

    def _enforce_disk_limit(self, job: GridJob, container_id: str, handle: _Handle) -> None:
        """Fail the job when its volumes (work dir + its own volumes) outgrow `jobs.work_dir_mb`.

        Docker volumes have no quota on overlay2, so the engine's own accounting (/system/df) is read
        every few seconds; a job can overshoot by what it writes in one interval.
        """
        used = self._volume_bytes(handle.volumes)
        limit = self.limits.work_dir_mb * 1024 * 1024
        if used is None or used <= limit or handle.stop_requested:
            return
        handle.fail_reason = (
            f"wrote {used // 2**20} MB to its work dir and volumes, over the limit of "
            f"{self.limits.work_dir_mb} MB (setting jobs.work_dir_mb)"
        )
        handle.stop_requested = True
        self._stop_container(container_id, handle)

    def _volume_bytes(self, names: set[str]) -> int | None:
        try:
            # type=volume keeps the engine from sizing images and build cache too (ignored before API 1.42).
            usage = self._api._result(self._api._get(self._api._url("/system/df"), params={"type": "volume"}), True)
        except Exception as exc:  # the limit is best effort; an engine hiccup must not fail the job
            log.info("could not read volume usage: %s", exc)
            return None
        sizes = [
            int((volume.get("UsageData") or {}).get("Size") or 0)
            for volume in usage.get("Volumes") or []
            if volume.get("Name") in names
        ]
        return sum(sizes)

    def _create(
        self, spec: sandbox.OpSandbox, name: str, auth: dict[str, str] | None, job_id: str, grid: bool = True
    ) -> str:
        import docker.errors

        kwargs = sandbox.create_container_kwargs(self._api, spec, self.limits, name)
        if grid:  # never the user's registry logins, no private registry hosts, no image it could not pull
            try:
                self.images.admit_for_grid(spec.image, auth, job_id)
            except PullError as exc:
                raise _OpFailed(str(exc)) from None
        try:
            created = self._api.create_container(**kwargs)
        except docker.errors.ImageNotFound:
            try:
                self.images.pull(spec.image, auth, job_id=job_id, user_credentials=not grid)
            except PullError as exc:
                raise _OpFailed(str(exc)) from None
            created = self._api.create_container(**kwargs)
        except docker.errors.APIError as exc:
            if exc.status_code == 409:  # a leftover of an earlier run of this attempt
                self._remove_container(name)
                created = self._api.create_container(**kwargs)
            else:
                raise
        self.images.touch(spec.image)
        return str(created["Id"])

    def _execute(
        self, job: GridJob, op: RunOp, container_id: str, handle: _Handle, deadline: float, op_result: OpResult
    ) -> None:
        import requests.exceptions

        extractor = ResultExtractor(op.results)
        bounded = BoundedLog(self.limits.log_bytes)
        policy = op.args.restart_policy
        tries_left = policy.restart_tries if policy and policy.policy != "no" else 0
        while True:
            response, frames = self._attach(container_id)
            try:
                self._api.start(container_id)
            except BaseException:
                response.close()
                raise
            reader = threading.Thread(
                target=self._follow_logs,
                args=(job.job_id, op.id, response, frames, extractor, bounded),
                name=f"logs-{job.job_id}-{op.id}",
                daemon=True,
            )
            reader.start()
            status: dict[str, Any] | None = None
            timed_out = False
            while status is None:
                remaining = deadline + handle.frozen_total - time.monotonic()
                if handle.frozen_since is not None:
                    remaining += time.monotonic() - handle.frozen_since
                if remaining <= 0:
                    timed_out = True
                    self._stop_container(container_id, handle)
                    status = self._api.wait(container_id, timeout=self.limits.stop_grace_seconds + 30)
                    break
                try:
                    # Waits in slices so the work dir's size is checked while the job runs; a trivial job
                    # ends within the first slice and costs no extra call.
                    status = self._api.wait(container_id, timeout=min(remaining, DISK_CHECK_SECONDS) + 0.5)
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
                    if "timed out" not in str(exc).lower() and not isinstance(exc, requests.exceptions.ReadTimeout):
                        raise
                    self._enforce_disk_limit(job, container_id, handle)
            reader.join(timeout=30)
            exit_code = int(status.get("StatusCode", -1)) if status else -1
            op_result.exit_code = exit_code
            if exit_code == 137 and not handle.stop_requested and not timed_out:
                state = self._api.inspect_container(container_id).get("State", {})
                op_result.oom_killed = bool(state.get("OOMKilled"))
            if handle.fail_reason is not None:
                op_result.status, op_result.reason = "failed", handle.fail_reason
            elif handle.stop_requested:
                op_result.status, op_result.reason = "stopped", "stopped by the scheduler"
            elif timed_out:
                op_result.status = "failed"
                op_result.reason = f"timed out after {job.timeout_seconds} s (SIGTERM, then SIGKILL after the grace)"
            elif op_result.oom_killed:
                op_result.status = "failed"
                op_result.reason = f"killed: out of memory (limit {self.limits.memory_mb} MB)"
            elif exit_code == 0:
                op_result.status = "succeeded"
            else:
                op_result.status, op_result.reason = "failed", f"exited with code {exit_code}"
            restart = policy is not None and (
                policy.policy in ("always", "unless-stopped") or (policy.policy == "on-failure" and exit_code != 0)
            )
            if op_result.status in ("succeeded", "failed") and not timed_out and restart and tries_left > 0:
                tries_left -= 1
                op_result.restarts += 1
                self.bus.publish("job.op.restarting", job_id=job.job_id, op_id=op.id, restarts=op_result.restarts)
                continue
            break
        op_result.results = extractor.final()
        op_result.log_tail = bounded.text()
        op_result.log_truncated = bounded.truncated

    def _attach(self, container_id: str) -> tuple[Any, Iterator[tuple[str, bytes]]]:
        """Attach to stdout/stderr before start: lossless, and the job waits for us rather than the
        engine's log file rotating under a follower (a flood is slowed down, never half-recorded)."""
        from docker.utils.socket import frames_iter

        api = self._api
        response = api._post(
            api._url("/containers/{0}/attach", container_id),
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            params={"logs": 0, "stdout": 1, "stderr": 1, "stream": 1},
            stream=True,
        )
        api._raise_for_status(response)
        sock = api._get_raw_response_socket(response)
        api._disable_socket_timeout(sock)  # a job may be silent for longer than the client timeout
        frames = ((STREAM_TYPES.get(stream, "stdout"), data) for stream, data in frames_iter(sock, False))
        return response, frames

    def _follow_logs(
        self,
        job_id: str,
        op_id: str,
        response: Any,
        frames: Iterator[tuple[str, bytes]],
        extractor: ResultExtractor,
        bounded: BoundedLog,
    ) -> None:
        splitters = {"stdout": LineSplitter(), "stderr": LineSplitter()}

        def emit(stream: str, lines: list[str]) -> None:
            for line in lines:
                bounded.append(stream, line)
                extractor.feed(stream, line)
                self.bus.publish("job.log", job_id=job_id, op_id=op_id, stream=stream, line=line)

        try:
            for stream, data in frames:
                emit(stream, splitters.setdefault(stream, LineSplitter()).feed(data.decode("utf-8", "replace")))
        except Exception as exc:  # the op's outcome does not depend on its log stream
            log.info("log stream of %s/%s ended: %s", job_id, op_id, exc)
        finally:
            response.close()
        for stream, splitter in splitters.items():
            emit(stream, splitter.flush())

    def _collect_output(
        self, job_id: str, attempt: int, op_id: str, container_id: str, output: str, op_result: OpResult
    ) -> None:
        import docker.errors

        destination = jobs_dir_for(self.paths, job_id, attempt) / op_id
        try:
            chunks, _stat = self._api.get_archive(container_id, output)
        except docker.errors.NotFound:
            op_result.reason = _join(op_result.reason, f"output folder {output} was not created by the op")
            return
        try:  # room first: expired outputs go, and the oldest ones while over outputs.budget_mb
            self.outputs.sweep()
        except OSError as exc:
            log.warning("job outputs not swept: %s", exc)
        cap = self.outputs.byte_cap(job_id, attempt, self.limits.output_bytes)
        max_entries = self.outputs.settings.max_entries_per_op
        collected = extract_output(chunks, destination, cap.bytes, max_entries)
        op_result.output_dir = str(collected.directory)
        op_result.output_files = collected.files
        notes = []
        if collected.truncated:
            notes.append(f"output truncated at {cap.bytes} bytes (setting {cap.setting})")
        if collected.too_many_entries:
            notes.append(f"output stopped after {max_entries} files and folders (setting outputs.max_entries_per_op)")
        if collected.skipped:
            notes.append("output entries skipped: " + "; ".join(collected.skipped[:5]))
        if notes:
            op_result.reason = _join(op_result.reason, ", ".join(notes))

    def _create_network(self, job: GridJob) -> str:
        kwargs = sandbox.network_create_kwargs(job.job_id, job.attempt, self.instance_id, owner=self.owner)
        name = kwargs.pop("name")
        self._api.create_network(name, **kwargs)
        return str(name)

    def _stop_container(self, container_id: str, handle: _Handle) -> None:
        import docker.errors

        with handle.lock:
            if handle.frozen_since is not None:
                try:
                    self._api.unpause(container_id)
                except docker.errors.APIError:
                    pass
                handle.frozen_total += time.monotonic() - handle.frozen_since
                handle.frozen_since = None
        try:
            self._api.stop(container_id, timeout=self.limits.stop_grace_seconds)
        except docker.errors.NotFound:
            pass

    def _remove_container(self, container: str) -> None:
        import docker.errors

        try:
            self._api.remove_container(container, force=True)
        except docker.errors.NotFound:
            pass
        except Exception as exc:
            log.warning("could not remove container %s: %s", container, _engine_reason(exc))

    def _cleanup(self, cleanup: list[tuple[str, str]]) -> None:
        import docker.errors

        for kind, name in reversed(cleanup):
            try:
                if kind == "volume":
                    self._api.remove_volume(name, force=True)
                else:
                    self._api.remove_network(name)
            except docker.errors.NotFound:
                pass
            except Exception as exc:
                log.warning("could not remove %s %s: %s", kind, name, _engine_reason(exc))

    # ================================================================ preemption

    def _handle_for(self, job_id: str) -> _Handle | None:
        with self._handles_lock:
            return self._handles.get(job_id)

    def freeze(self, job_id: str) -> bool:
        """Pause the job's running container; False when the job has no running container here."""
        handle = self._handle_for(job_id)
        if handle is None or handle.container_id is None:
            return False
        with handle.lock:
            if handle.frozen_since is not None:
                return True
            self._api.pause(handle.container_id)
            handle.frozen_since = time.monotonic()
        self.bus.publish("job.frozen", job_id=job_id)
        return True

    def thaw(self, job_id: str) -> bool:
        handle = self._handle_for(job_id)
        if handle is None or handle.container_id is None:
            return False
        with handle.lock:
            if handle.frozen_since is None:
                return True
            self._api.unpause(handle.container_id)
            handle.frozen_total += time.monotonic() - handle.frozen_since
            handle.frozen_since = None
        self.bus.publish("job.thawed", job_id=job_id)
        return True

    def running_job_ids(self) -> list[str]:
        with self._handles_lock:
            return list(self._handles)

    def stop(self, job_id: str) -> bool:
        """SIGTERM, grace, SIGKILL; `run()` then returns with status "stopped"."""
        handle = self._handle_for(job_id)
        if handle is None:
            return False
        handle.stop_requested = True
        container_id = handle.container_id
        if container_id is not None:
            self._stop_container(container_id, handle)
        return True

    # ================================================================ recovery

    def reconcile(self) -> list[JobResult]:
        """Finish what processes that are gone left behind: job records, containers, volumes, networks.

        Every job belongs to the process that runs it (ownership.py: the row's `owner`, the objects'
        `hostapp.owner` label). Only jobs whose owner is gone are touched, so a process may call this
        while another one (the node, a standalone `run-job`) runs jobs in the same data folder and
        engine. Such a job is first adopted: one UPDATE swaps its row's owner to this process, so when
        two processes reconcile at once exactly one of them handles each job.

        Of an adopted job, exited containers are collected (exit code, OOM, logs, results, output);
        running or paused ones are stopped (policy: a restarted app does not re-adopt half-run work);
        its row gets a final status. Containers of a gone owner's job that has no record, or a record
        that already ended, are removed, as are its volumes and networks. An engine error on one
        container is one warning line and leaves that container as it is: this never raises for what
        the engine does.
        """
        adopted: set[tuple[str, int]] = set()
        reconciled: dict[tuple[str, int], JobResult] = {}
        label = f"{sandbox.LABEL_INSTANCE}={self.instance_id}"
        try:
            containers = self._api.containers(all=True, filters={"label": label})
        except Exception as exc:
            log.warning("reconcile skipped: %s", _engine_reason(exc))
            return []
        for summary in containers:
            labels = summary.get("Labels") or {}
            try:
                self._reconcile_container(summary["Id"], labels, adopted, reconciled)
            except Exception as exc:
                log.warning(
                    "reconcile: container %s of job %s left as it is: %s",
                    str(summary.get("Id", ""))[:12],
                    labels.get(sandbox.LABEL_JOB, "?"),
                    _engine_reason(exc),
                )
        for row in self.store.query(
            "SELECT job_id, attempt, started_at, owner FROM jobs WHERE status IN (?, ?)", UNFINISHED
        ):
            key = (str(row["job_id"]), int(row["attempt"]))
            if key not in adopted and not self._adopt(key, row["owner"], adopted):
                continue  # its owner still runs it
            job = reconciled.setdefault(key, JobResult(key[0], key[1], "failed"))
            self._finish_adopted(job, float(row["started_at"] or 0.0))
        self._remove_leftover_objects(adopted)
        return list(reconciled.values())

    def _reconcile_container(
        self,
        container_id: str,
        labels: dict[str, str],
        adopted: set[tuple[str, int]],
        reconciled: dict[tuple[str, int], JobResult],
    ) -> None:
        key = _job_key(labels)
        job_id = key[0]
        if key not in adopted:
            if owner_alive(labels.get(sandbox.LABEL_OWNER)):
                return  # a live process runs this job (this one included): not ours to touch
            rows = self.store.query("SELECT status, owner FROM jobs WHERE job_id = ? AND attempt = ?", key)
            if not rows or rows[0]["status"] not in UNFINISHED:
                # No record, or its owner recorded the end but died before removing the container.
                log.info("removing leftover container %s of job %s (no unfinished record)", container_id[:12], job_id)
                self._remove_container(container_id)
                return
            if not self._adopt(key, rows[0]["owner"], adopted):
                return
        stored = self.store.query("SELECT definition FROM jobs WHERE job_id = ? AND attempt = ?", key)
        op_id = labels.get(sandbox.LABEL_OP, "")
        op_result = self._collect_leftover(key[0], key[1], op_id, container_id, stored[0]["definition"])
        reconciled.setdefault(key, JobResult(key[0], key[1], "failed")).ops.append(op_result)
        self._remove_container(container_id)

    def _adopt(self, key: tuple[str, int], owner: str | None, adopted: set[tuple[str, int]]) -> bool:
        """Take over an unfinished job whose owner is gone; False if it lives or another process was first."""
        if owner_alive(owner):
            return False
        taken = self.store.execute(
            "UPDATE jobs SET owner = ? WHERE job_id = ? AND attempt = ? AND status IN (?, ?) AND owner IS ?",
            (self.owner, key[0], key[1], *UNFINISHED, owner),
        ).rowcount
        if taken == 1:
            adopted.add(key)
        return taken == 1

    def _finish_adopted(self, job: JobResult, started_at: float) -> None:
        """Give an adopted job its final status from what its containers and records show."""
        key = (job.job_id, job.attempt)
        job.started_at = started_at
        job.ended_at = time.time()
        ops = self.store.query("SELECT op_id, status, reason FROM job_ops WHERE job_id = ? AND attempt = ?", key)
        for op in ops:
            if op["status"] == "running" and not any(o.op_id == op["op_id"] for o in job.ops):
                lost = OpResult(op["op_id"], "failed", reason="interrupted: its container was gone at restart")
                self._store_op(key[0], key[1], lost, None)
                job.ops.append(lost)
        statuses = {o.status for o in job.ops} | {o["status"] for o in ops}
        if job.ops and all(o.status == "succeeded" for o in job.ops) and statuses <= {"succeeded", "skipped"}:
            job.status = "succeeded"
            job.reason = "finished while hostapp was not running; collected at restart"
        elif "stopped" in {o.status for o in job.ops}:
            job.status, job.reason = "stopped", RECONCILE_STOPPED
        else:
            job.status, job.reason = "failed", "interrupted: hostapp stopped during the job"
            failed = [o for o in job.ops if o.status == "failed" and o.reason]
            if failed:
                job.reason = f"op {failed[0].op_id}: {failed[0].reason}"
        self._record_job_end(job)
        # The work volume is created by its mount, without labels: remove it by its name.
        self._cleanup([("volume", sandbox.resource_name(job.job_id, job.attempt, "work"))])
        self.bus.publish("job.finished", job_id=job.job_id, attempt=job.attempt, status=job.status, reason=job.reason)

    def _collect_leftover(self, job_id: str, attempt: int, op_id: str, container_id: str, stored: str) -> OpResult:
        op_result = OpResult(op_id, "failed")
        info = self._api.inspect_container(container_id)
        state = info.get("State", {})
        if state.get("Running") or state.get("Paused"):
            if state.get("Paused"):
                self._api.unpause(container_id)
            self._api.stop(container_id, timeout=self.limits.stop_grace_seconds)
            info = self._api.inspect_container(container_id)
            state = info.get("State", {})
            op_result.status, op_result.reason = "stopped", RECONCILE_STOPPED
        op_result.exit_code = state.get("ExitCode")
        op_result.oom_killed = bool(state.get("OOMKilled"))
        op_result.started_at = _parse_docker_time(state.get("StartedAt"))
        op_result.ended_at = _parse_docker_time(state.get("FinishedAt")) or time.time()
        definition = None
        try:
            definition = parse_job_definition(stored)
        except JobDefinitionError:
            pass
        op = next((o for o in definition.ops if o.id == op_id), None) if definition else None
        extractor = ResultExtractor(op.results if isinstance(op, RunOp) else None)
        bounded = BoundedLog(self.limits.log_bytes)
        raw = self._api.logs(container_id, stdout=True, stderr=True, stream=False)
        for line in raw.decode("utf-8", "replace").splitlines():
            bounded.append("stdout", line)
            extractor.feed("stdout", line)
        op_result.results = extractor.final()
        op_result.log_tail = bounded.text()
        op_result.log_truncated = bounded.truncated
        if op_result.status != "stopped":
            if op_result.oom_killed:
                op_result.reason = "killed: out of memory"
            elif op_result.exit_code == 0:
                op_result.status = "succeeded"
            else:
                op_result.reason = f"exited with code {op_result.exit_code} while hostapp was not running"
        if isinstance(op, RunOp) and op.args.output and op_result.status != "stopped":
            self._collect_output(job_id, attempt, op_id, container_id, op.args.output, op_result)
        self._store_op(job_id, attempt, op_result, container_id)
        return op_result

    def _remove_leftover_objects(self, adopted: set[tuple[str, int]]) -> None:
        """Volumes and networks of adopted jobs, and of gone owners' jobs without an unfinished record."""
        label = f"{sandbox.LABEL_INSTANCE}={self.instance_id}"
        try:
            volumes = (self._api.volumes(filters={"label": label}) or {}).get("Volumes") or []
            networks = self._api.networks(filters={"label": label})
        except Exception as exc:
            log.warning("leftover volumes/networks not removed: %s", _engine_reason(exc))
            return
        found = [("volume", v["Name"], v.get("Labels") or {}) for v in volumes]
        found += [("network", n["Name"], n.get("Labels") or {}) for n in networks]
        for kind, name, labels in found:
            key = _job_key(labels)
            if key in adopted:
                self._cleanup([(kind, name)])
            elif not owner_alive(labels.get(sandbox.LABEL_OWNER)):
                rows = self.store.query("SELECT status FROM jobs WHERE job_id = ? AND attempt = ?", key)
                if not rows or rows[0]["status"] not in UNFINISHED:
                    self._cleanup([(kind, name)])

    # ================================================================ the store

    def _record_job_start(self, job: GridJob, source: str, started: float) -> None:
        self.store.execute(
            """INSERT INTO jobs (job_id, attempt, source, definition, status, reason, created_at, started_at, owner)
               VALUES (?, ?, ?, ?, 'running', NULL, ?, ?, ?)
               ON CONFLICT(job_id, attempt) DO UPDATE SET status = 'running', reason = NULL,
               started_at = excluded.started_at, ended_at = NULL, owner = excluded.owner""",
            (job.job_id, job.attempt, source, redacted_json(job.definition), started, started, self.owner),
        )

    def _record_job_end(self, result: JobResult) -> None:
        self.store.execute(
            "UPDATE jobs SET status = ?, reason = ?, ended_at = ? WHERE job_id = ? AND attempt = ?",
            (result.status, result.reason, result.ended_at or time.time(), result.job_id, result.attempt),
        )

    def _record_op(self, job: GridJob, op: OpResult, container_id: str | None) -> None:
        self._store_op(job.job_id, job.attempt, op, container_id)

    def _store_op(self, job_id: str, attempt: int, op: OpResult, container_id: str | None) -> None:
        self.store.execute(
            """INSERT INTO job_ops (job_id, attempt, op_id, container_id, status, exit_code, oom_killed, reason,
                                    results, log_tail, started_at, ended_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(job_id, attempt, op_id) DO UPDATE SET container_id = excluded.container_id,
               status = excluded.status, exit_code = excluded.exit_code, oom_killed = excluded.oom_killed,
               reason = excluded.reason, results = excluded.results, log_tail = excluded.log_tail,
               started_at = COALESCE(job_ops.started_at, excluded.started_at), ended_at = excluded.ended_at""",
            (
                job_id,
                attempt,
                op.op_id,
                container_id,
                op.status,
                op.exit_code,
                int(op.oom_killed),
                op.reason,
                None if op.results is None else json.dumps(op.results),
                op.log_tail or None,
                op.started_at,
                op.ended_at,
            ),
        )


def _auth_config(args: Any) -> dict[str, str] | None:
    docker_auth = args.authentication.docker if args.authentication else None
    if docker_auth is None or not docker_auth.has_credentials:
        return None
    from hostapp.logs import redactor

    if docker_auth.password:
        redactor.register(docker_auth.password)
    config = {"username": docker_auth.username or "", "password": docker_auth.password or ""}
    if docker_auth.server:
        config["serveraddress"] = docker_auth.server
    return config


def _writable_member(member: Any) -> Any:
    """Cache entries are read-only (0444): the job's own copy is its to write."""
    member.mode |= 0o200
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _job_key(labels: dict[str, str]) -> tuple[str, int]:
    """(job id, attempt) from a job object's labels."""
    try:
        attempt = int(labels.get(sandbox.LABEL_ATTEMPT, "0"))
    except ValueError:
        attempt = 0
    return labels.get(sandbox.LABEL_JOB, ""), attempt


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


def _parse_docker_time(value: Any) -> float | None:
    from datetime import datetime

    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(value[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return None


def _engine_reason(exc: BaseException) -> str:
    """A one-line, user-facing reason for an engine-side failure."""
    from hostapp.jobs.engine import START_HINT

    text = str(getattr(exc, "explanation", None) or exc).strip().splitlines()
    first = text[0][:300] if text else type(exc).__name__
    lowered = first.lower()
    if "no space left" in lowered:
        return f"disk full: {first}: free disk space (docker system df) and retry"
    name = type(exc).__name__
    if name in ("ConnectionError", "EngineUnavailable") or "connection refused" in lowered or "no such file" in lowered:
        return f"Docker engine not reachable ({first}): {START_HINT}"
    if isinstance(exc, OSError) and not name.startswith("Connection"):
        return f"{name}: {first}"
    return first


def jobs_dir_for(paths: AppPaths, job_id: str, attempt: int) -> Path:
    return paths.jobs_dir / job_id / str(attempt)
