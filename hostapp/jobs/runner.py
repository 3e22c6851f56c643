"""Runs a job's ops in hardened containers and records them in the job journal.

Recovery after a crash is recovery.py (`reconcile()` here delegates to it); the journal's tables are
journal.py; docker-py's private API is engine.py; background removal of finished containers is reaper.py.

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

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostapp.config.paths import AppPaths
from hostapp.config.settings import JobLimits, ModelSettings, OutputSettings
from hostapp.events import EventBus
from hostapp.jobs import engine, sandbox
from hostapp.jobs.collect import extract_output
from hostapp.jobs.definition import (
    CreateVolumeOp,
    GridJob,
    LiteralError,
    RunOp,
    effective_command,
    effective_entrypoint,
    execution_order,
    resolve_run_args,
)
from hostapp.jobs.definition import resources as job_resources
from hostapp.jobs.images import ImageCache, PullError
from hostapp.jobs.joblog import BoundedLog, LineSplitter
from hostapp.jobs.journal import JobJournal, JobResult, OpResult
from hostapp.jobs.ownership import current_owner
from hostapp.jobs.reaper import EngineObject, Reaper
from hostapp.jobs.recovery import Recovery
from hostapp.jobs.results import ResultExtractor, ResultValue
from hostapp.jobs.retention import JobOutputs
from hostapp.resources.cache import ModelCache
from hostapp.resources.spec import ResourceError, resolve
from hostapp.services.expose import is_service
from hostapp.services.network import network_create_kwargs as service_network_kwargs
from hostapp.store import Store

if TYPE_CHECKING:  # asyncssh is imported only where a service runs
    from hostapp.services.host import ServiceHost

log = logging.getLogger(__name__)

DISK_CHECK_SECONDS = 3.0


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
    remove_in_background: bool = False  # finished containers go to the reaper instead of being removed inline


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
        self.journal = JobJournal(store)  # the one reader and writer of the jobs/job_ops tables
        self.reaper = Reaper(self.remove_objects, name=f"reaper-{instance_id}")
        self.instance_id = instance_id
        self.owner = owner or current_owner()  # marks every job this runner starts (ownership.py)
        self.images = ImageCache(self._api, store, bus, image_cache_budget_mb)
        self.models = ModelCache(paths.cache / "models", models, publish=bus.publish)
        self.outputs = JobOutputs(
            paths.jobs_dir, outputs or OutputSettings(), store, active=lambda: set(self.running_job_ids())
        )
        self._handles: dict[str, _Handle] = {}
        self._handles_lock = threading.Lock()
        self.services: ServiceHost | None = None  # serves ops that expose ports (hostapp/services/host.py)

    @property
    def api(self) -> Any:
        """The engine's low-level client (docker.APIClient)."""
        return self._api

    # ================================================================ running

    def run(
        self, job: GridJob, gpu_uuid: str | None = None, source: str = "grid", remove_in_background: bool = False
    ) -> JobResult:
        """Run the job to its end. With `remove_in_background`, its containers, volumes and networks are
        removed by the reaper after this returns (the node starts its next job meanwhile); results, logs
        and output are taken before. Without it, they are gone when this returns."""
        started = time.time()
        result = JobResult(job.job_id, job.attempt, "running", started_at=started)
        handle = _Handle(grid=source != "local", remove_in_background=remove_in_background)
        with self._handles_lock:
            self._handles[job.job_id] = handle
        self.journal.record_start(job, source, started, self.owner)
        self.bus.publish("job.started", job_id=job.job_id, attempt=job.attempt, gpu_uuid=gpu_uuid)
        cleanup: list[EngineObject] = []  # what to remove at the end, in creation order
        try:
            self._run_ops(job, gpu_uuid, handle, result, cleanup)
        except Exception as exc:  # the app keeps running whatever the engine does
            log.exception("job %s failed unexpectedly", job.job_id)
            result.status, result.reason = "failed", engine.failure_reason(exc)
        finally:
            if handle.remove_in_background:
                self.reaper.submit(cleanup[::-1])
            else:
                self.remove_objects(cleanup[::-1])
            self.models.release(job.job_id)  # its containers have exited: its models may be evicted again
            with self._handles_lock:
                self._handles.pop(job.job_id, None)
        result.ended_at = time.time()
        self.journal.record_end(result)
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
                self.journal.record_op(job.job_id, job.attempt, skipped, None)
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
                self.journal.record_op(job.job_id, job.attempt, op_result, None)
            else:
                if (job.network or (self.services and is_service(definition))) and network is None:
                    network = self._create_network(job)
                    cleanup.append(("network", network))
                work_volume = sandbox.resource_name(job.job_id, job.attempt, "work")
                if ("volume", work_volume) not in cleanup:
                    cleanup.append(("volume", work_volume))
                    handle.volumes.add(work_volume)
                op_result = self._run_op(
                    job, op, gpu_uuid, handle, deadline, results_by_op, volumes, network, work_volume, cleanup
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
        cleanup: list[EngineObject],
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
            self.journal.record_op(job.job_id, job.attempt, op_result, container_id)
            service = None
            if self.services is not None and args.expose is not None and network is not None:
                service = self.services.started(job, op.id, args, container_id, network, results_by_op)
            try:
                self._execute(job, op, container_id, handle, deadline, op_result)
            finally:
                if service is not None and self.services is not None:
                    self.services.ended(service, op_result)  # tunnel closed; a timeout/poster stop = served
            if args.output and op_result.status in ("succeeded", "failed"):
                self.collect_output(job.job_id, job.attempt, op.id, container_id, args.output, op_result)
        except _OpFailed as exc:
            op_result.status, op_result.reason = "failed", str(exc)
        except Exception as exc:
            log.info("op %s of job %s failed: %s", op.id, job.job_id, exc)
            op_result.status, op_result.reason = "failed", engine.failure_reason(exc)
        finally:
            handle.container_id = None
            if container_id is not None and handle.remove_in_background:
                cleanup.append(("container", container_id))  # after the volumes it uses: removed before them
            elif container_id is not None:
                self.remove_container(container_id)
            op_result.ended_at = time.time()
            self.journal.record_op(job.job_id, job.attempt, op_result, container_id)
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
            usage = engine.volume_usage(self._api)
        except Exception as exc:  # the limit is best effort; an engine hiccup must not fail the job
            log.info("could not read volume usage: %s", exc)
            return None
        return sum(size for name, size in usage.items() if name in names)

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
                self.remove_container(name)
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
            response, frames = engine.attach_output(self._api, container_id)
            try:
                self._api.start(container_id)
            except BaseException:
                response.close()
                raise
            self.reaper.started()  # the last job's removal may run now, no longer in this start's way
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

    def collect_output(
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
        # A service job's bridge is internal unless the job also has network (hostapp/services/network.py).
        kwargs = service_network_kwargs(job.job_id, job.attempt, self.instance_id, self.owner, outbound=job.network)
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

    def remove_container(self, container: str) -> None:
        import docker.errors

        try:
            self._api.remove_container(container, force=True)
        except docker.errors.NotFound:
            pass
        except Exception as exc:
            log.warning("could not remove container %s: %s", container, engine.failure_reason(exc))

    def remove_objects(self, objects: list[EngineObject]) -> None:
        """Remove containers, volumes and networks in the order given; a missing one is no error."""
        import docker.errors

        for kind, name in objects:
            if kind == "container":
                self.remove_container(name)
                continue
            try:
                if kind == "volume":
                    self._api.remove_volume(name, force=True)
                else:
                    self._api.remove_network(name)
            except docker.errors.NotFound:
                pass
            except Exception as exc:
                log.warning("could not remove %s %s: %s", kind, name, engine.failure_reason(exc))

    # ================================================================ preemption

    def _handle_for(self, job_id: str) -> _Handle | None:
        with self._handles_lock:
            return self._handles.get(job_id)

    def freeze(self, job_id: str) -> bool:
        """Pause the job's running container; False when the job has no running container here."""
        handle = self._handle_for(job_id)
        if handle is None or handle.container_id is None:
            return False
        if self.services is not None and self.services.running(job_id) is not None:
            return False  # a service cannot be frozen transparently: it gets a grace, then is stopped (node)
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
        """Finish what processes that are gone left behind: job records, containers, volumes, networks
        (recovery.py). Touches only jobs whose owner is gone; never raises for what the engine does."""
        return Recovery(self).reconcile()


__all__ = ["JobResult", "JobRunner", "OpResult"]


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


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second


def jobs_dir_for(paths: AppPaths, job_id: str, attempt: int) -> Path:
    return paths.jobs_dir / job_id / str(attempt)
