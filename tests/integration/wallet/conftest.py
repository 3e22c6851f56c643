from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hostapp.chain import LocalChain


@pytest.fixture(scope="module")
def local_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChain]:
    chain = LocalChain(Path(tmp_path_factory.mktemp("chain")))
    chain.start()
    yield chain
    chain.stop()
