"""`hostapp run-job FILE.json|FILE.yaml [--gpu UUID] [--dry-run] [--json] [--network] [--timeout S] [--standalone]`.

Exit codes: 0 the job succeeded (dry run: runnable here), 1 the job failed, 2 the definition is
invalid (each error with its JSON path), 3 valid but not runnable here (each `unsupported:` line).

When the app or `hostapp node` runs, the job goes to it over the control socket, the way `docker run`
hands a container to dockerd: this process then imports neither pydantic nor docker (start-up is
most of a short job's time), and the node keeps grid jobs off the GPU while the local job has it.
Else (or with --standalone) the job runs in this process. Both paths share hostapp/jobs/local.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNSUPPORTED = 0, 1, 2, 3


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run-job", help="run a Nosana-style job definition locally, like the grid would"
    )
    parser.add_argument("file", metavar="FILE.json", help="the job definition (JSON, or YAML as .yaml/.yml)")
    parser.add_argument("--gpu", metavar="UUID", help="the GPU to hand to GPU ops (`hostapp gpu` shows UUIDs)")
    parser.add_argument("--dry-run", action="store_true", help="validate and print the plan; run nothing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (no live output)")
    parser.add_argument("--network", action="store_true", help="give the job outbound network (own bridge)")
    parser.add_argument("--timeout", type=int, default=3600, metavar="S", help="job timeout in seconds")
    parser.add_argument(
        "--standalone", action="store_true", help="run in this process even when the app or node is running"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hostapp.cli import CliError
    from hostapp.jobs.limits import MAX_TIMEOUT_SECONDS

    path = Path(args.file)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", EXIT_INVALID) from None
    if not 1 <= args.timeout <= MAX_TIMEOUT_SECONDS:
        raise CliError(f"--timeout must be between 1 and {MAX_TIMEOUT_SECONDS} seconds", EXIT_INVALID)
    if path.suffix.lower() in (".yaml", ".yml"):
        raw = _yaml_as_json(raw, path, args)
        if not raw:
            return EXIT_INVALID
    printer = _Progress(quiet=args.json)
    request = {
        "name": path.stem,
        "gpu": args.gpu,
        "network": args.network,
        "timeout_seconds": args.timeout,
        "dry_run": args.dry_run,
    }
    answer = None if args.standalone else _through_running_app(raw, request, printer)
    if answer is None:
        answer = _in_this_process(raw, request, printer)
    return _report(answer, path, args)


def _yaml_as_json(raw: bytes, path: Path, args: argparse.Namespace) -> bytes:
    """A YAML definition as the JSON text the rest reads (b"" after printing why it is not one)."""
    from hostapp.jobs.yaml_text import YamlDefinitionError, load_yaml_definition

    try:
        data = load_yaml_definition(raw)
    except YamlDefinitionError as exc:
        _report({"outcome": "invalid", "errors": [[exc.path, exc.reason]]}, path, args)
        return b""
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _through_running_app(raw: bytes, request: dict[str, Any], printer: _Progress) -> dict[str, Any] | None:
    """The answer of the running app or node; None when none runs (or it cannot take this file)."""
    from hostapp.cli import CliError
    from hostapp.config.paths import default_paths
    from hostapp.control.transport import ControlError, NotRunning, call
    from hostapp.jobs.limits import MAX_DEFINITION_BYTES

    if len(raw) > MAX_DEFINITION_BYTES:
        return None  # refused either way; this process says why in the definition's own words
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        answer = call(
            default_paths().control_socket,
            "run-job",
            {**request, "definition": text},
            timeout=None,
            on_event=printer,
        )
    except NotRunning:
        return None
    except ControlError as exc:
        raise CliError(f"the running hostapp could not run the job: {exc}", EXIT_FAILED) from exc
    return dict(answer)


def _in_this_process(raw: bytes, request: dict[str, Any], printer: _Progress) -> dict[str, Any]:
    from hostapp.app import build_services
    from hostapp.jobs.definition import JobDefinition, MachineCaps, needs_gpu
    from hostapp.jobs.engine import EngineUnavailable
    from hostapp.jobs.local import LocalJobRequest, run_local_job
    from hostapp.jobs.runner import JobRunner

    services = build_services()
    try:
        problem: str | None = None
        try:
            _ = services.docker  # connects and pings once; the runner and the caps reuse it
        except EngineUnavailable as exc:
            problem = str(exc)

        def caps(definition: JobDefinition) -> MachineCaps:
            # `docker info` (and the GPU probe) cost time: ask only when a GPU matters.
            return services.machine_caps() if problem is None and needs_gpu(definition) else MachineCaps()

        def runner() -> JobRunner:
            # What processes that are gone (a run-job killed mid-job) left behind; the jobs of live
            # ones, a node running in the same data folder included, are not touched (ownership.py).
            services.runner.reconcile()
            return services.runner

        job = LocalJobRequest(raw, **request)
        return run_local_job(job, caps, runner, printer, engine_problem=problem)
    finally:
        services.close()


# C0 and C1 control characters (tab excepted) and DEL: a job's log line or file name could otherwise
# retitle the terminal, clear the screen or write the clipboard (OSC 52). Shown as \xNN instead.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with every control character but tab written out as \\xNN."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def _say(text: str, file: Any = None, flush: bool = False) -> None:
    """print() for anything that may carry a job's text."""
    print(printable(text), file=file if file is not None else sys.stdout, flush=flush)


class _Progress:
    """Prints the events a running job streams: log lines as they come, pulls, the job id."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        topic, data = event.get("topic"), event.get("data") or {}
        if topic == "job.log":
            stream = sys.stderr if data.get("stream") == "stderr" else sys.stdout
            _say(f"[{data.get('op_id')}] {data.get('line')}", file=stream, flush=True)
        elif topic == "job.pull.progress":
            mib, total = data.get("bytes_done", 0) / 1048576, data.get("bytes_total", 0) / 1048576
            layers = f"{data.get('layers_done')}/{data.get('layers_total')} layers"
            _say(f"pull {data.get('image')}: {layers}, {mib:.1f}/{total:.1f} MiB", file=sys.stderr, flush=True)
        elif topic == "resource.progress":
            gb, total = data.get("bytes_done", 0) / 1e9, data.get("bytes_total", 0) / 1e9
            state = "ready" if data.get("finished") else "fetching"
            _say(f"model {data.get('resource')}: {state}, {gb:.2f}/{total:.2f} GB", file=sys.stderr, flush=True)
        elif topic == "job.started":
            _say(f"job {data.get('job_id')}: {data.get('ops')} ops", file=sys.stderr, flush=True)


def _report(answer: dict[str, Any], path: Path, args: argparse.Namespace) -> int:
    outcome = answer.get("outcome")
    if outcome == "invalid":
        errors = answer.get("errors", [])
        for json_path, reason in errors:
            _say(f"invalid: {json_path}: {reason}", file=sys.stderr)
        _say(f"hostapp: error: {path} is not a valid job definition ({len(errors)} errors)", file=sys.stderr)
        return EXIT_INVALID
    if outcome in ("planned", "unsupported") and args.dry_run:
        return _print_plan(answer.get("plan", []), answer.get("unsupported", []), args.json)
    if outcome == "unsupported":
        for line in answer.get("unsupported", []):
            _say(line, file=sys.stderr)
        return EXIT_UNSUPPORTED
    result = answer.get("result") or {}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_summary(result)
    return EXIT_OK if result.get("status") == "succeeded" else EXIT_FAILED


def _print_plan(plan: list[dict[str, Any]], lines: list[str], as_json: bool) -> int:
    if as_json:
        print(json.dumps({"runnable": not lines, "unsupported": lines, "plan": plan}, indent=2))
    else:
        for entry in plan:
            shown = {k: v for k, v in entry.items() if k not in ("op", "type", "resources", "expose") and v is not None}
            details = ", ".join(f"{k}={v}" for k, v in shown.items())
            _say(f"plan: {entry['op']} ({entry['type']}) {details}".rstrip())
            for res in entry.get("resources") or []:
                files = ", ".join(res["files"]) if res.get("files") else "all files"
                mode = "writable copy" if res.get("writable") else "read-only"
                _say(f"plan:   resource {res['type']} {res['source']} -> {res['target'] or '-'} ({files}; {mode})")
            for port in entry.get("expose") or []:
                kind = f" ({port['type']})" if port.get("type") else ""
                _say(f"plan:   port {port['port']}{kind}: {'; '.join(port['checks']) or 'no health checks'}")
        for line in lines:
            _say(line)
        _say("runnable on this machine" if not lines else "not runnable on this machine")
    return EXIT_OK if not lines else EXIT_UNSUPPORTED


def _print_summary(result: dict[str, Any]) -> None:
    for op in result.get("ops", []):
        extra = f", exit {op['exit_code']}" if op.get("exit_code") is not None else ""
        extra += ", OOM-killed" if op.get("oom_killed") else ""
        extra += f": {op['reason']}" if op.get("reason") else ""
        _say(f"op {op['op_id']}: {op['status']} in {op.get('duration_seconds', 0):.2f} s{extra}", file=sys.stderr)
        for name, value in (op.get("results") or {}).items():
            _say(f"  result {name}: {json.dumps(value)}")
        if op.get("output_dir"):
            _say(f"  output: {op['output_dir']} ({len(op.get('output_files', []))} files)")
    reason = f": {result['reason']}" if result.get("reason") else ""
    _say(
        f"job {result.get('job_id')}: {result.get('status')} in {result.get('duration_seconds', 0):.2f} s{reason}",
        file=sys.stderr,
    )
