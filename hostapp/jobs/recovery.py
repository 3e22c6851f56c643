"""Recovery after a restart: finish what processes that are gone left behind.

Every job belongs to the process that runs it (ownership.py: the journal row's `owner`, the engine
objects' `hostapp.owner` label). Only jobs whose owner is gone are touched, so a process may reconcile
while another one (the node, a standalone `run-job`) runs jobs in the same data folder and engine.
Such a job is first adopted: one UPDATE swaps its row's owner to this process (JobJournal.adopt), so
when two processes reconcile at once exactly one of them handles each job.

Of an adopted job, exited containers are collected (exit code, OOM, logs, results, output); running
or paused ones are stopped (policy: a restarted app does not re-adopt half-run work); its row gets a
final status. Containers of a gone owner's job that has no record, or a record that already ended,
are removed, as are its volumes and networks: this covers what the runner's background removal
(reaper.py) had not finished when its process died. An engine error on one container is one warning
line and leaves that container as it is: this never raises for what the engine does.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from hostapp.jobs import sandbox
from hostapp.jobs.definition import JobDefinitionError, RunOp, parse_job_definition
from hostapp.jobs.joblog import BoundedLog
from hostapp.jobs.journal import UNFINISHED, JobResult, OpResult
from hostapp.jobs.ownership import owner_alive
from hostapp.jobs.results import ResultExtractor

if TYPE_CHECKING:
    from hostapp.jobs.runner import JobRunner

log = logging.getLogger(__name__)

RECONCILE_STOPPED = "hostapp restarted while the op was running; the container was stopped (policy: stop)"

JobKey = tuple[str, int]


class Recovery:
    """One reconcile pass for `runner`'s instance (its engine, journal, limits and owner id)."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self.api = runner.api
        self.journal = runner.journal
        self.adopted: set[JobKey] = set()
        self.reconciled: dict[JobKey, JobResult] = {}
        self.leftover: set[JobKey] = set()  # ended jobs of gone owners whose containers were still there

    def reconcile(self) -> list[JobResult]:
        from hostapp.jobs.engine import failure_reason as engine_reason

        label = f"{sandbox.LABEL_INSTANCE}={self.runner.instance_id}"
        try:
            containers = self.api.containers(all=True, filters={"label": label})
        except Exception as exc:
            log.warning("reconcile skipped: %s", engine_reason(exc))
            return []
        for summary in containers:
            labels = summary.get("Labels") or {}
            try:
                self._reconcile_container(summary["Id"], labels)
            except Exception as exc:
                log.warning(
                    "reconcile: container %s of job %s left as it is: %s",
                    str(summary.get("Id", ""))[:12],
                    labels.get(sandbox.LABEL_JOB, "?"),
                    engine_reason(exc),
                )
        for row in self.journal.unfinished():
            key = (row.job_id, row.attempt)
            if key not in self.adopted and not self._adopt(key, row.owner):
                continue  # its owner still runs it
            job = self.reconciled.setdefault(key, JobResult(key[0], key[1], "failed"))
            self._finish_adopted(job, row.started_at)
        self._remove_leftover_objects()
        return list(self.reconciled.values())

    def _reconcile_container(self, container_id: str, labels: dict[str, str]) -> None:
        key = job_key(labels)
        if key not in self.adopted:
            if owner_alive(labels.get(sandbox.LABEL_OWNER)):
                return  # a live process runs this job (this one included): not ours to touch
            recorded = self.journal.status_and_owner(*key)
            if recorded is None or recorded[0] not in UNFINISHED:
                # No record, or its owner recorded the end but died before removing the container.
                log.info("removing leftover container %s of job %s (no unfinished record)", container_id[:12], key[0])
                self.runner.remove_container(container_id)
                self.leftover.add(key)
                return
            if not self._adopt(key, recorded[1]):
                return
        op_id = labels.get(sandbox.LABEL_OP, "")
        op_result = self._collect_leftover(key, op_id, container_id, self.journal.definition_json(*key) or "")
        self.reconciled.setdefault(key, JobResult(key[0], key[1], "failed")).ops.append(op_result)
        self.runner.remove_container(container_id)

    def _adopt(self, key: JobKey, owner: str | None) -> bool:
        """Take over an unfinished job whose owner is gone; False if it lives or another process was first."""
        if owner_alive(owner):
            return False
        if self.journal.adopt(key[0], key[1], owner, self.runner.owner):
            self.adopted.add(key)
            return True
        return False

    def _finish_adopted(self, job: JobResult, started_at: float) -> None:
        """Give an adopted job its final status from what its containers and records show."""
        job.started_at = started_at
        job.ended_at = time.time()
        recorded = self.journal.ops(job.job_id, job.attempt)
        for op in recorded:
            if op.status == "running" and not any(o.op_id == op.op_id for o in job.ops):
                lost = OpResult(op.op_id, "failed", reason="interrupted: its container was gone at restart")
                self.journal.record_op(job.job_id, job.attempt, lost, None)
                job.ops.append(lost)
        statuses = {o.status for o in job.ops} | {o.status for o in recorded}
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
        self.journal.record_end(job)
        # The work volume is created by its mount, without labels: remove it by its name.
        self.runner.remove_objects([("volume", sandbox.resource_name(job.job_id, job.attempt, "work"))])
        self.runner.bus.publish(
            "job.finished", job_id=job.job_id, attempt=job.attempt, status=job.status, reason=job.reason
        )

    def _collect_leftover(self, key: JobKey, op_id: str, container_id: str, stored: str) -> OpResult:
        job_id, attempt = key
        limits = self.runner.limits
        op_result = OpResult(op_id, "failed")
        info = self.api.inspect_container(container_id)
        state = info.get("State", {})
        if state.get("Running") or state.get("Paused"):
            if state.get("Paused"):
                self.api.unpause(container_id)
            self.api.stop(container_id, timeout=limits.stop_grace_seconds)
            info = self.api.inspect_container(container_id)
            state = info.get("State", {})
            op_result.status, op_result.reason = "stopped", RECONCILE_STOPPED
        op_result.exit_code = state.get("ExitCode")
        op_result.oom_killed = bool(state.get("OOMKilled"))
        op_result.started_at = parse_docker_time(state.get("StartedAt"))
        op_result.ended_at = parse_docker_time(state.get("FinishedAt")) or time.time()
        definition = None
        try:
            definition = parse_job_definition(stored)
        except JobDefinitionError:
            pass
        op = next((o for o in definition.ops if o.id == op_id), None) if definition else None
        extractor = ResultExtractor(op.results if isinstance(op, RunOp) else None)
        bounded = BoundedLog(limits.log_bytes)
        raw = self.api.logs(container_id, stdout=True, stderr=True, stream=False)
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
            self.runner.collect_output(job_id, attempt, op_id, container_id, op.args.output, op_result)
        self.journal.record_op(job_id, attempt, op_result, container_id)
        return op_result

    def _remove_leftover_objects(self) -> None:
        """Volumes and networks of adopted jobs, and of gone owners' jobs without an unfinished record."""
        from hostapp.jobs.engine import failure_reason as engine_reason

        label = f"{sandbox.LABEL_INSTANCE}={self.runner.instance_id}"
        try:
            volumes = (self.api.volumes(filters={"label": label}) or {}).get("Volumes") or []
            networks = self.api.networks(filters={"label": label})
        except Exception as exc:
            log.warning("leftover volumes/networks not removed: %s", engine_reason(exc))
            return
        # A work volume is created by its container's mount, without labels: found by its name.
        for job_id, attempt in sorted(self.leftover):
            self.runner.remove_objects([("volume", sandbox.resource_name(job_id, attempt, "work"))])
        found = [("volume", v["Name"], v.get("Labels") or {}) for v in volumes]
        found += [("network", n["Name"], n.get("Labels") or {}) for n in networks]
        for kind, name, labels in found:
            key = job_key(labels)
            if key in self.adopted:
                self.runner.remove_objects([(kind, name)])
            elif not owner_alive(labels.get(sandbox.LABEL_OWNER)):
                recorded = self.journal.status_and_owner(*key)
                if recorded is None or recorded[0] not in UNFINISHED:
                    self.runner.remove_objects([(kind, name)])


def job_key(labels: dict[str, str]) -> JobKey:
    """(job id, attempt) from a job object's labels."""
    try:
        attempt = int(labels.get(sandbox.LABEL_ATTEMPT, "0"))
    except ValueError:
        attempt = 0
    return labels.get(sandbox.LABEL_JOB, ""), attempt


def parse_docker_time(value: Any) -> float | None:
    from datetime import datetime

    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(value[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return None
