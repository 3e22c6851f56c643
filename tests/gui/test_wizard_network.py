"""The wizard's network page: the local demo grid stays the choice unless Nosana (beta) is picked,
and Nosana's requirements are on the page before the choice. Offscreen Qt; the choice is saved by
the real node daemon into the real settings file."""

from __future__ import annotations

import pytest

from hostapp.config.settings import load_settings

pytestmark = [pytest.mark.gui, pytest.mark.nosana]


def open_on_network_page(services, qtbot):  # type: ignore[no-untyped-def]
    from hostapp.gui.wizard import FirstRunWizard

    wizard = FirstRunWizard(services)
    qtbot.addWidget(wizard)
    wizard.setStartId(wizard.page_ids[wizard.network])
    wizard.restart()
    wizard.show()
    assert wizard.currentPage() is wizard.network
    return wizard


def saved_backend(services) -> str:  # type: ignore[no-untyped-def]
    return load_settings(services.paths.settings_file).settings.grid.backend


def test_the_demo_grid_stays_unless_nosana_is_chosen(gui_services, qtbot) -> None:
    wizard = open_on_network_page(gui_services, qtbot)
    page = wizard.network
    assert [b.text() for b in page.buttons.values()] == ["Local demo grid", "Nosana network (beta)"]
    assert page.buttons["embedded"].isChecked() and not page.buttons["nosana"].isChecked()
    text = page.requirements.text()
    for requirement in ("0.01 SOL", "NOS staked", "waitlist", "NVIDIA GPU support", "100 GiB", "hostapp doctor"):
        assert requirement in text, requirement
    before = gui_services.paths.settings_file.read_bytes() if gui_services.paths.settings_file.exists() else None
    wizard.next()  # keep the demo grid
    assert wizard.currentPage() is wizard.done_page
    after = gui_services.paths.settings_file.read_bytes() if gui_services.paths.settings_file.exists() else None
    assert after == before and saved_backend(gui_services) == "embedded"  # nothing written

    wizard = open_on_network_page(gui_services, qtbot)
    wizard.network.buttons["nosana"].setChecked(True)
    wizard.next()
    assert wizard.currentPage() is wizard.done_page
    assert saved_backend(gui_services) == "nosana" and gui_services.settings.grid.backend == "nosana"

    wizard = open_on_network_page(gui_services, qtbot)  # opened again: shows the saved choice
    assert wizard.network.buttons["nosana"].isChecked()
    wizard.network.buttons["embedded"].setChecked(True)
    wizard.next()
    assert saved_backend(gui_services) == "embedded"
