import http.server
import logging
import threading
import time
from pathlib import Path

import httpx

from hostapp.logs import LOG_BACKUPS, LOG_FILE_BYTES, REPEAT_WINDOW_SECONDS, redactor, setup_logging

B58_SECRET = "4wBqpZM9xaSheZzJSMawUKKwhdpChKbZ5eu5ky4Vigw9h8cKbhyrXoRnJaWEgX8FTE8UCxSNmE2uqFQWpsPtRuD"
KEYGEN = "[" + ",".join(str(i) for i in range(64)) + "]"


def test_secret_shapes_and_registered_secrets_are_redacted(tmp_path: Path) -> None:
    setup_logging(tmp_path)
    redactor.register("abandon ability able about above absent absorb abstract absurd abuse access accident")
    log = logging.getLogger("hostapp.test")
    log.warning("key %s", B58_SECRET)
    log.warning("keygen %s", KEYGEN)
    log.warning("seed abandon ability able about above absent absorb abstract absurd abuse access accident")
    log.warning('registry {"password": "hunter22"} and Authorization: Bearer abc.def')
    log.warning("pubkey 9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM stays visible")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (tmp_path / "hostapp.log").read_text()
    assert B58_SECRET not in text
    assert "1,2,3,4,5,6,7" not in text
    assert "abandon ability" not in text
    assert "hunter22" not in text and "abc.def" not in text
    assert "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM" in text
    assert text.count("[REDACTED]") >= 5


def test_exception_text_is_redacted(tmp_path: Path) -> None:
    setup_logging(tmp_path)
    try:
        raise ValueError(f"bad key {B58_SECRET}")
    except ValueError:
        logging.getLogger("hostapp.test").exception("failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert B58_SECRET not in (tmp_path / "hostapp.log").read_text()


def _grid_call_failed(log: logging.Logger, attempt: int) -> None:
    """One place in the code that warns on every failed retry, like a busy node's grid loop."""
    try:
        raise ConnectionRefusedError(f"[Errno 111] Connection refused (attempt {attempt})")
    except ConnectionRefusedError as exc:
        log.warning("grid call failed: %s", exc)


def _log_text(tmp_path: Path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return (tmp_path / "hostapp.log").read_text()


def test_a_warning_repeated_on_every_retry_is_written_once(tmp_path: Path) -> None:
    setup_logging(tmp_path)
    log = logging.getLogger("hostapp.grid.client")
    for attempt in range(1000):
        _grid_call_failed(log, attempt)
    log.warning("a different problem")  # another call site: written
    text = _log_text(tmp_path)
    assert text.count("grid call failed") == 1, text[:2000]
    assert "attempt 0)" in text
    assert text.count("a different problem") == 1


def test_a_repeated_warning_comes_back_after_its_window_with_the_count(tmp_path: Path) -> None:
    from hostapp.logs import repeats

    setup_logging(tmp_path)
    log = logging.getLogger("hostapp.grid.client")
    repeats.window_seconds = 0.2
    try:
        for attempt in range(10):
            _grid_call_failed(log, attempt)
        time.sleep(0.3)
        _grid_call_failed(log, 10)
    finally:
        repeats.window_seconds = REPEAT_WINDOW_SECONDS
    lines = [line for line in _log_text(tmp_path).splitlines() if "grid call failed" in line]
    assert len(lines) == 2
    assert lines[1].endswith("(attempt 10) (and 9 more like this since the last one written)")


def test_http_requests_are_not_logged_one_line_each(tmp_path: Path) -> None:
    """httpx's INFO line per request would grow the file with every grid poll."""
    setup_logging(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with httpx.Client() as client:
            for _ in range(20):
                client.get(f"http://127.0.0.1:{server.server_port}/v1/jobs/lease")
    finally:
        server.shutdown()
        server.server_close()
    assert "HTTP Request" not in _log_text(tmp_path)


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_log_files_stay_under_their_size_cap(tmp_path: Path) -> None:
    setup_logging(tmp_path)
    log = logging.getLogger("hostapp.node.slots")
    line = "x" * 1000
    for i in range(40_000):  # ~40 MB of distinct INFO lines
        log.info("job %d finished %s", i, line)
    _log_text(tmp_path)
    files = list(tmp_path.glob("hostapp.log*"))
    total = sum(f.stat().st_size for f in files)
    assert len(files) == LOG_BACKUPS + 1
    assert total <= (LOG_BACKUPS + 1) * LOG_FILE_BYTES
