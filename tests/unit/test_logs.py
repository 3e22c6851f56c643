import logging
from pathlib import Path

from hostapp.logs import redactor, setup_logging

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
