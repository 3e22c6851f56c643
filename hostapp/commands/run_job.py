"""`hostapp run-job FILE.json [--gpu UUID] [--dry-run] [--json] [--network] [--timeout S]`.

Exit codes: 0 the job succeeded (dry run: runnable here), 1 the job failed, 2 the definition is
invalid (each error with its JSON path), 3 valid but not runnable here (each `unsupported:` line).
pydantic and docker are imported inside the handler: this module is imported for every command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNSUPPORTED = 0, 1, 2, 3


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run-job", help="run a Nosana-style job definition locally, like the grid would"
    )
    parser.add_argument("file", metavar="FILE.json", help="the job definition")
    parser.add_argument("--gpu", metavar="UUID", help="the GPU to hand to GPU ops (nvidia-smi -L shows UUIDs)")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the plan; run nothing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (no live output)")
    parser.add_argument("--network", action="store_true", help="give the job outbound network (own bridge)")
    parser.add_argument("--timeout", type=int, default=3600, metavar="S", help="job timeout in seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hostapp.cli import CliError
    from hostapp.jobs.definition import JobDefinitionError, parse_job_definition

    path = Path(args.file)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", EXIT_INVALID) from None
    try:
        definition = parse_job_definition(raw)
    except JobDefinitionError as exc:
        for json_path, reason in exc.errors:
            print(f"invalid: {json_path}: {reason}", file=sys.stderr)
        print(f"hostapp: error: {path} is not a valid job definition ({len(exc.errors)} errors)", file=sys.stderr)
        return EXIT_INVALID
    if not 1 <= args.timeout <= 7 * 24 * 3600:
        raise CliError("--timeout must be between 1 and 604800 seconds", EXIT_INVALID)
    if args.dry_run:
        return _dry_run(definition, args)
    return _run(definition, path, args)


def _machine_caps(client: Any, definition: Any) -> Any:
    from hostapp.engine import gpu_runtime
    from hostapp.jobs.definition import MachineCaps, needs_gpu

    if not needs_gpu(definition):  # `docker info` is one of the engine's slower calls: skip it when moot
        return MachineCaps()
    ok, detail = gpu_runtime(client.info())
    return MachineCaps(nvidia_runtime=ok, runtime_detail=detail)


def _connect() -> tuple[Any, str | None]:
    from hostapp.engine import EngineUnavailable, connect

    try:
        return connect(timeout=60), None
    except EngineUnavailable as exc:
        return None, str(exc)


def _dry_run(definition: Any, args: argparse.Namespace) -> int:
    from hostapp.jobs.definition import RunOp, effective_command, execution_order, unsupported

    client, problem = _connect()
    if client is None:
        lines = [f"unsupported: job: {problem}"]
    else:
        lines = unsupported(definition, _machine_caps(client, definition))
    if args.gpu is None and client is not None:
        lines += [
            f"unsupported: op {op.id}: args.gpu: cannot run GPU job: no --gpu UUID given"
            for op in definition.ops
            if isinstance(op, RunOp) and op.args.gpu and not any(f"op {op.id}: args.gpu" in line for line in lines)
        ]
    plan = []
    for op in execution_order(definition):
        entry: dict[str, Any] = {"op": op.id, "type": op.type}
        if isinstance(op, RunOp):
            entry.update(
                image=op.args.image,
                cmd=effective_command(op.args),
                gpu=bool(op.args.gpu),
                output=op.args.output,
                network="own bridge" if args.network else "none",
            )
        if op.execution and op.execution.depends_on:
            entry["depends_on"] = op.execution.depends_on
        plan.append(entry)
    if args.json:
        print(json.dumps({"runnable": not lines, "unsupported": lines, "plan": plan}, indent=2))
    else:
        for entry in plan:
            details = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("op", "type") and v is not None)
            print(f"plan: {entry['op']} ({entry['type']}) {details}".rstrip())
        for line in lines:
            print(line)
        print("runnable on this machine" if not lines else "not runnable on this machine")
    return EXIT_OK if not lines else EXIT_UNSUPPORTED


def _run(definition: Any, path: Path, args: argparse.Namespace) -> int:
    import secrets

    from hostapp.app import build_services
    from hostapp.cli import CliError
    from hostapp.jobs.definition import GridJob, unsupported
    from hostapp.jobs.runner import JobRunner

    client, problem = _connect()
    if client is None:
        raise CliError(str(problem), EXIT_FAILED)
    lines = unsupported(definition, _machine_caps(client, definition))
    if lines:
        for line in lines:
            print(line, file=sys.stderr)
        return EXIT_UNSUPPORTED
    services = build_services()
    instance = services.store.get_kv("instance_id")
    if instance is None:
        instance = secrets.token_hex(8)
        services.store.set_kv("instance_id", instance)
    runner = JobRunner(
        client,
        services.settings.jobs,
        services.paths,
        services.bus,
        services.store,
        instance,
        services.settings.image_cache.budget_mb,
    )
    runner.reconcile()
    if not args.json:
        services.bus.subscribe("job.log", _print_log)
        services.bus.subscribe("job.pull.progress", _print_pull)
    stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in path.stem)[:40].strip("-.") or "job"
    job = GridJob(f"local-{stem}-{secrets.token_hex(4)}", 1, 0, args.timeout, definition, network=args.network)
    if not args.json:
        print(f"job {job.job_id}: {len(definition.ops)} ops", file=sys.stderr)
    try:
        result = runner.run(job, gpu_uuid=args.gpu, source="local")
    finally:
        services.close()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _print_summary(result)
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


def _print_log(event: Any) -> None:
    data = event.data
    stream = sys.stderr if data.get("stream") == "stderr" else sys.stdout
    print(f"[{data['op_id']}] {data['line']}", file=stream, flush=True)


def _print_pull(event: Any) -> None:
    data = event.data
    mib = data["bytes_done"] / 1048576
    total = data["bytes_total"] / 1048576
    print(
        f"pull {data['image']}: {data['layers_done']}/{data['layers_total']} layers, {mib:.1f}/{total:.1f} MiB",
        file=sys.stderr,
        flush=True,
    )


def _print_summary(result: Any) -> None:
    for op in result.ops:
        extra = f", exit {op.exit_code}" if op.exit_code is not None else ""
        extra += ", OOM-killed" if op.oom_killed else ""
        extra += f": {op.reason}" if op.reason else ""
        print(f"op {op.op_id}: {op.status} in {op.duration_seconds:.2f} s{extra}", file=sys.stderr)
        for name, value in (op.results or {}).items():
            print(f"  result {name}: {json.dumps(value)}")
        if op.output_dir:
            print(f"  output: {op.output_dir} ({len(op.output_files)} files)")
    reason = f": {result.reason}" if result.reason else ""
    print(f"job {result.job_id}: {result.status} in {result.duration_seconds:.2f} s{reason}", file=sys.stderr)
