import time

from bench.harness import compare


def test_compare_reports_the_ratio_of_medians() -> None:
    result = compare("sleep", lambda: time.sleep(0.004), lambda: time.sleep(0.002), runs=5, warmup=0, target_ratio=1.1)
    assert 1.3 < result.ratio < 3.0
    assert result.meets_target is False
    assert "OVER TARGET" in result.line()
