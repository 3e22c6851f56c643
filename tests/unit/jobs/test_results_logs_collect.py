from __future__ import annotations

import io
import tarfile
from pathlib import Path

from hostapp.jobs.collect import extract_output
from hostapp.jobs.definition import ResultFilter
from hostapp.jobs.joblog import BoundedLog, LineSplitter
from hostapp.jobs.results import ResultExtractor


def test_results_follow_nosana_semantics() -> None:
    extractor = ResultExtractor(
        {
            "all": "Device [0-9].*",
            "err": ResultFilter(regex="Device [0-9].*", logType=["stderr"]),
            "groups": "(?<=A: )(.*)(?=,)",
            "named": "v=(?<value>[0-9]+)",
            "bad": "\\",
        }
    )
    extractor.feed("stdout", "Device 1: x")
    extractor.feed("stderr", "Device 0: y")
    extractor.feed("stdout", "A: sky,")
    extractor.feed("stdout", "v=42 v=43")
    results = extractor.final()
    assert results is not None
    assert results["all"] == ["Device 1: x", "Device 0: y"]
    assert results["err"] == ["Device 0: y"]
    assert results["groups"] == ["sky", "sky"]  # whole match, then the capture group (JS match())
    assert results["named"] == ["v=42", "42"]  # first match per line only
    assert isinstance(results["bad"], str) and results["bad"].startswith("SyntaxError")


def test_no_log_means_no_results() -> None:
    assert ResultExtractor({"a": "x"}).final() is None


def test_bounded_log_drops_oldest_with_marker() -> None:
    log = BoundedLog(100)
    for i in range(100):
        log.append("stdout", f"line {i:03d}")
    text = log.text()
    assert text.startswith("[hostapp: log truncated")
    assert text.endswith("line 099")
    assert len(text.encode()) < 200


def test_line_splitter_cuts_endless_lines() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed("abc") == []
    assert splitter.feed("def\nghi") == ["abcdef"]
    assert splitter.feed("x" * 25) == ["ghixxxxxxx", "xxxxxxxxxx"]
    assert splitter.flush() == ["xxxxxxxx"]


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> list[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    raw = buffer.getvalue()
    return [raw[i : i + 1000] for i in range(0, len(raw), 1000)]


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_output_collection_refuses_escapes(tmp_path: Path) -> None:
    chunks = _tar(
        [
            (_info("output", tarfile.DIRTYPE), b""),
            (_info("output/ok.txt"), b"fine"),
            (_info("output/sub", tarfile.DIRTYPE), b""),
            (_info("output/sub/deep.txt"), b"deep"),
            (_info("output/link", tarfile.SYMTYPE, "/etc/passwd"), b""),
            (_info("output/hard", tarfile.LNKTYPE, "/etc/shadow"), b""),
            (_info("output/../../escape.txt"), b"evil"),
            (_info("/abs.txt"), b"evil"),
        ]
    )
    out = extract_output(chunks, tmp_path / "dest", max_bytes=1024)
    assert sorted(out.files) == ["ok.txt", "sub/deep.txt"]
    assert (tmp_path / "dest" / "ok.txt").read_bytes() == b"fine"
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "dest" / "link").exists()
    assert len(out.skipped) == 4


def test_output_collection_caps_size(tmp_path: Path) -> None:
    chunks = _tar([(_info("output/a.bin"), b"a" * 600), (_info("output/b.bin"), b"b" * 600)])
    out = extract_output(chunks, tmp_path / "dest", max_bytes=1000)
    assert out.files == ["a.bin"]
    assert out.truncated
