"""A job definition run by hand (`hostapp run-job`): checks, plan and run, in one place.

The CLI runs a job through the running app or node when one answers on the control socket (it
already has the engine client and the definition models loaded, and it keeps the GPU away from grid
jobs meanwhile), else in its own process. Both paths call `run_local_job`, so they answer alike.

The answer is a JSON-able dict whose `outcome` is one of:
- "invalid": `errors`, [[json_path, reason], ...]                     → exit 2
- "unsupported": `unsupported` lines and the `plan`                    → exit 3
- "planned": the `plan` (a dry run of a runnable definition)           → exit 0
- "ran": `result`, JobResult.to_json()                                 → exit 0 if it succeeded, else 1
Progress goes to `emit` as {"topic", "data"} events: job.started, job.log, job.pull.progress,
resource.progress (model fetches), and a
`keepalive` every 2 s (clients ignore topics they do not know).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hostapp.control.transport import Emit
from hostapp.events import Event
from hostapp.jobs.definition import (
    GridJob,
    JobDefinition,
    JobDefinitionError,
    MachineCaps,
    Resource,
    RunOp,
    effective_command,
    execution_order,
    parse_job_definition,
    unsupported,
)
from hostapp.jobs.limits import MAX_TIMEOUT_SECONDS
from hostapp.jobs.runner import JobRunner

FORWARDED_TOPICS = ("job.log", "job.pull.progress", "resource.progress")
KEEPALIVE_SECONDS = 2.0


@dataclass(frozen=True)
class LocalJobRequest:
    definition: str | bytes  # the definition file's text (bytes in-process: the parser checks the encoding)
    name: str = "job"  # the file's stem: readable job ids (local-<name>-<random>)
    gpu: str | None = None  # the GPU UUID GPU ops get
    network: bool = False  # outbound network on the job's own bridge
    timeout_seconds: int = 3600
    dry_run: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LocalJobRequest:
        """From a control-socket request; ValueError names the field that is wrong."""
        definition, name, gpu = data.get("definition"), data.get("name", "job"), data.get("gpu")
        if not isinstance(definition, str):
            raise ValueError("run-job: 'definition' must be the definition's text")
        if not isinstance(name, str) or (gpu is not None and not isinstance(gpu, str)):
            raise ValueError("run-job: 'name' and 'gpu' must be strings")
        timeout = data.get("timeout_seconds", 3600)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"run-job: 'timeout_seconds' must be an integer 1..{MAX_TIMEOUT_SECONDS}")
        flags = {key: data.get(key, False) for key in ("network", "dry_run")}
        if not all(isinstance(value, bool) for value in flags.values()):
            raise ValueError("run-job: 'network' and 'dry_run' must be true or false")
        return cls(definition, name, gpu, flags["network"], timeout, flags["dry_run"])


def local_job_id(name: str) -> str:
    # Job ids are plain ASCII (definition.ID_PATTERN): `tést.json` becomes local-t-st-…, not a crash.
    stem = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "-" for c in name)[:40].strip("-.") or "job"
    return f"local-{stem}-{secrets.token_hex(4)}"


def plan(definition: JobDefinition, network: bool) -> list[dict[str, Any]]:
    """The ops in the order they run, with what each gets: what a dry run prints."""
    entries = []
    for op in execution_order(definition):
        entry: dict[str, Any] = {"op": op.id, "type": op.type}
        if isinstance(op, RunOp):
            entry.update(
                image=op.args.image,
                cmd=effective_command(op.args),
                gpu=bool(op.args.gpu),
                output=op.args.output,
                network="own bridge" if network else "none",
            )
            if op.args.resources:
                entry["resources"] = [resource_plan(item) for item in op.args.resources if isinstance(item, Resource)]
            if op.args.expose is not None:
                entry["expose"] = _expose_plan(op)
        if op.execution and op.execution.depends_on:
            entry["depends_on"] = op.execution.depends_on
        entries.append(entry)
    return entries


def _expose_plan(op: RunOp) -> list[dict[str, Any]]:
    from hostapp.services.expose import ExposeError, plan_entry, static_plan

    try:
        return plan_entry(static_plan(op))
    except ExposeError:
        return []  # the `unsupported:` line says why


def resource_plan(resource: Resource) -> dict[str, Any]:
    """What a dry run shows of a resource: never its IAM keys or token."""
    source = resource.url or resource.repo or resource.model
    if resource.type == "HF" and resource.revision:
        source = f"{source}@{resource.revision}"
    return {
        "type": resource.type,
        "source": source,
        "target": resource.target,
        "files": list(resource.files) if resource.files else None,
        "writable": bool(resource.allowWrite),
    }


def gpu_problems(
    definition: JobDefinition, gpu: str | None, known: list[str], claim_gpu: Callable[[str], str | None] | None
) -> list[str]:
    """GPU ops need a GPU named with --gpu, and one nothing else holds.

    `claim_gpu(uuid)` (the node's) takes the GPU for this job, or says why it is taken. An op whose GPU
    is already refused in `known` (no NVIDIA runtime, say) gets no second line.
    """
    ops = [
        op.id
        for op in definition.ops
        if isinstance(op, RunOp) and op.args.gpu and not any(f"op {op.id}: args.gpu" in line for line in known)
    ]
    if not ops or (known and gpu is not None):
        return []  # refused for other reasons already: claim nothing
    if gpu is None:
        problem: str | None = "cannot run GPU job: no --gpu UUID given (`hostapp gpu` lists them)"
    else:
        problem = claim_gpu(gpu) if claim_gpu else None
    return [f"unsupported: op {op_id}: args.gpu: {problem}" for op_id in ops] if problem else []


def run_local_job(
    request: LocalJobRequest,
    caps: Callable[[JobDefinition], MachineCaps],
    runner: Callable[[], JobRunner],
    emit: Emit,
    claim_gpu: Callable[[str], str | None] | None = None,
    engine_problem: str | None = None,
) -> dict[str, Any]:
    """Check, plan and (unless a dry run) run `request`; see the module doc for the answer.

    `caps` gives what this machine can run (asked only once the definition is valid); `runner` is
    called only for a job that will run; `claim_gpu` only for a GPU job otherwise runnable, last. With an
    `engine_problem` (the engine is down) nothing runs.
    """
    try:
        definition = parse_job_definition(request.definition)
    except JobDefinitionError as exc:
        return {"outcome": "invalid", "errors": [list(error) for error in exc.errors]}
    lines = [f"unsupported: job: {engine_problem}"] if engine_problem else []
    lines += unsupported(definition, caps(definition))
    lines += gpu_problems(definition, request.gpu, lines, claim_gpu)
    steps = plan(definition, request.network)
    if lines:
        return {"outcome": "unsupported", "unsupported": lines, "plan": steps}
    if request.dry_run:
        return {"outcome": "planned", "plan": steps}
    job = GridJob(local_job_id(request.name), 1, 0, request.timeout_seconds, definition, network=request.network)
    return {"outcome": "ran", "result": run_with_progress(runner(), job, request.gpu, emit)}


def run_with_progress(
    runner: JobRunner, job: GridJob, gpu: str | None, emit: Emit, keepalive_seconds: float = KEEPALIVE_SECONDS
) -> dict[str, Any]:
    """Run `job`, sending its log lines and pull progress to `emit`; a client that hangs up stops it.

    A keep-alive every `keepalive_seconds` finds a vanished client even while the job prints nothing.
    """
    lock = threading.Lock()  # log, pull and keep-alive events come from different threads: one line at a time
    done = threading.Event()
    gone = False

    def send(topic: str, data: dict[str, Any]) -> None:
        nonlocal gone
        with lock:
            if gone:
                return
            try:
                emit({"topic": topic, "data": data})
                return
            except Exception:  # nobody is listening any more: the job was theirs, so stop it
                gone = True
        runner.stop(job.job_id)

    def forward(event: Event) -> None:
        if event.data.get("job_id") == job.job_id:
            send(event.topic, event.data)

    def keep_alive() -> None:
        while not done.wait(keepalive_seconds):
            send("keepalive", {"job_id": job.job_id})

    unsubscribe = [runner.bus.subscribe(topic, forward) for topic in FORWARDED_TOPICS]
    pinger = threading.Thread(target=keep_alive, name=f"run-job-keepalive-{job.job_id}", daemon=True)
    try:
        emit({"topic": "job.started", "data": {"job_id": job.job_id, "ops": len(job.definition.ops)}})
        pinger.start()
        return runner.run(job, gpu_uuid=gpu, source="local").to_json()
    finally:
        done.set()
        for stop_listening in unsubscribe:
            stop_listening()
