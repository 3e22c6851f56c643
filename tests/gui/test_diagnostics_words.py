"""Diagnostics and the wizard's checks say what a finding means for the user first; the technical
finding (runtime and backend names) and the full fix are there on expand, not in the first line."""

from __future__ import annotations

import pytest

from hostapp.health.doctor import Check, DoctorReport, Status, check_gpu_runtime, check_keyring

pytestmark = pytest.mark.gui

# What `docker info` says on a machine with a GPU and no NVIDIA Container Toolkit.
ENGINE_WITHOUT_TOOLKIT = {"Runtimes": {"io.containerd.runc.v2": {}, "runc": {}}, "DiscoveredDevices": []}
GPU_OK = Check("gpu", Status.OK, "1 NVIDIA GPU(s): NVIDIA GeForce RTX 4090", meaning="Found your RTX 4090: it can earn")


def test_missing_toolkit_is_said_as_what_it_means_with_the_runtime_names_as_detail() -> None:
    check = check_gpu_runtime(ENGINE_WITHOUT_TOOLKIT, GPU_OK)
    assert check.status is Status.WARN
    assert check.says.startswith("GPU jobs can't run: the NVIDIA Container Toolkit is missing")
    assert "io.containerd.runc.v2" not in check.says and "io.containerd.runc.v2" in check.summary
    assert "nvidia-ctk runtime configure" in (check.hint or "")
    assert check.to_json()["meaning"] == check.says and check.to_json()["summary"] == check.summary


def test_keyring_check_says_where_the_key_goes_without_class_names(gui_services) -> None:
    check = check_keyring()  # the real Secret Service of this test session
    assert "keyring.backends" not in check.says and check.says
    assert check.details["backend"].startswith("keyring.backends.")


def test_diagnostics_page_shows_the_meaning_first_and_the_fix_and_detail_on_expand(tray_app, qtbot) -> None:
    page = tray_app.window.pages["Diagnostics"]
    runtime = check_gpu_runtime(ENGINE_WITHOUT_TOOLKIT, GPU_OK)
    page.show_report(DoctorReport([GPU_OK, runtime]))
    item = page.tree.topLevelItem(1)
    assert (item.text(0), item.text(1)) == ("WARN", "GPU in containers")
    assert item.text(2) == runtime.says and "runc" not in item.text(2)
    assert not item.isExpanded()  # the technical part waits for a click
    children = {item.child(i).text(1): item.child(i).text(2) for i in range(item.childCount())}
    assert children["Fix"] == runtime.hint  # the full fix, not cut
    assert "io.containerd.runc.v2" in children["Detail"]
    assert page.tree.topLevelItem(0).text(2) == "Found your RTX 4090: it can earn"
    # A warning is not a plain "Ready": GPU jobs can't run here although CPU jobs do.
    assert "Ready to share this GPU" not in page.message.text() and "GPU in containers" in page.message.text()
    # Whole check names: the column fits them instead of eliding to "GPU in ...".
    assert page.tree.columnWidth(1) >= page.tree.fontMetrics().horizontalAdvance("GPU in containers")


def test_wizard_checks_page_lists_meanings_not_ids(gui_services, qtbot) -> None:
    from hostapp.gui.wizard import ChecksStep

    step = ChecksStep(gui_services)
    qtbot.addWidget(step)
    runtime = check_gpu_runtime(ENGINE_WITHOUT_TOOLKIT, GPU_OK)
    step.show_report(DoctorReport([GPU_OK, runtime]))
    text = step.results.text()
    assert "GPU jobs can't run: the NVIDIA Container Toolkit is missing" in text
    assert "gpu_runtime" not in text and "io.containerd" not in text
    assert "io.containerd.runc.v2" in step.results.toolTip()  # the detail is one hover away
