"""Settings: hostapp.config.settings fields; validated by the settings model, saved atomically."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from hostapp.config.settings import Settings
from hostapp.control.transport import ControlError
from hostapp.gui.bridge import EventBridge
from hostapp.gui.pages.common import Message, heading
from hostapp.gui.viewmodels import one_line
from hostapp.gui.wiring import GuiServices
from hostapp.shapes import ShapeError

MODELS_LISTED = 8  # model cache entries named on the page (the largest); the rest are counted
CLUSTERS = ("localnet", "devnet", "mainnet-beta", "custom")
NOTIFICATIONS = {
    "job_started": "Job started",
    "job_finished": "Job finished",
    "payout_received": "Payout received",
    "paused_for_game": "Paused for a game",
    "error_needs_action": "Error needing action",
}


def parse_price_milli(text: str, what: str = "electricity price") -> int:
    """ "0.32" (currency) → 320 thousandths; ValueError with a one-line reason."""
    try:
        value = Decimal(text.strip().replace(",", ".") or "0")
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a number: use e.g. 0.32") from None
    exponent = value.as_tuple().exponent  # an int when finite; "n", "N" or "F" for NaN and infinity
    if not value.is_finite() or not isinstance(exponent, int) or value < 0 or exponent < -3:
        raise ValueError(f"{what}: a positive number with at most 3 decimals")
    return int(value * 1000)


def price_text(milli: int) -> str:
    return f"{Decimal(milli) / 1000:.3f}"


class SettingsPage(QWidget):
    title = "Settings"

    def __init__(self, services: GuiServices, bridge: EventBridge) -> None:
        super().__init__()
        self._services = services
        outer = QVBoxLayout(self)
        outer.addWidget(heading("Settings"))
        # The fields scroll inside the page: unfolding Advanced (or a 1.5× font) never makes the window
        # grow past its default size.
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll_area = QScrollArea()  # not `scroll`: that is QWidget.scroll()
        self.scroll_area.setWidget(content)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        outer.addWidget(self.scroll_area, 1)
        form = QFormLayout()
        self.grid_url = QLineEdit()
        self.grid_url.setPlaceholderText("empty: the embedded local grid")
        self.cluster = QComboBox()
        self.cluster.addItems(CLUSTERS)
        self.rpc_url = QLineEdit()
        self.rpc_url.setPlaceholderText("default for the cluster")
        self.gpus = QLineEdit()
        self.gpus.setPlaceholderText("empty: every detected GPU; or comma-separated GPU UUIDs")
        self.memory_mb = QSpinBox()
        self.memory_mb.setRange(64, 1_048_576)
        self.memory_mb.setSuffix(" MB")
        self.cpus = QDoubleSpinBox()
        self.cpus.setRange(0.1, 512)
        self.cache_mb = QSpinBox()
        self.cache_mb.setRange(512, 10_000_000)
        self.cache_mb.setSuffix(" MB")
        self.models_mb = QSpinBox()  # the model cache (S3/HF resources of jobs): ModelSettings.budget_mb
        self.models_mb.setRange(1, 100_000_000)
        self.models_mb.setSuffix(" MB")
        self.models_usage = QLabel()
        self.models_usage.setTextFormat(Qt.TextFormat.PlainText)  # labels are URLs and repos jobs named
        self.outputs_mb = QSpinBox()
        self.outputs_mb.setRange(1, 16 * 1_048_576)
        self.outputs_mb.setSuffix(" MB")
        self.outputs_days = QSpinBox()
        self.outputs_days.setRange(0, 3650)
        self.outputs_days.setSpecialValueText("until the result is delivered")
        self.outputs_days.setSuffix(" days")
        self.outputs_usage = QLabel()
        self.autostart = QCheckBox("Start hostapp when I log in")
        self.price = QLineEdit()
        self.token_price = QLineEdit()
        self.token_price.setPlaceholderText("optional: to show earnings net of electricity")
        self.currency = QLineEdit()
        self.currency.setMaxLength(8)
        self.notifications = {key: QCheckBox(label) for key, label in NOTIFICATIONS.items()}
        # What a user sets first; job limits next; what only a developer or a rig owner changes (grid,
        # chain, GPU UUIDs) last, in an Advanced group that is folded away until asked for.
        form.addRow("", self.autostart)
        price_row = QHBoxLayout()
        price_row.addWidget(self.price)
        price_row.addWidget(self.currency)
        form.addRow("Electricity price per kWh", price_row)
        form.addRow(f"Value of 1 {services.unit_symbol}", self.token_price)
        for box in self.notifications.values():
            form.addRow("Notify" if box is next(iter(self.notifications.values())) else "", box)
        layout.addLayout(form)
        limits = QGroupBox("Limits for jobs")
        limits_form = QFormLayout(limits)
        limits_form.addRow("Job memory limit", self.memory_mb)
        limits_form.addRow("Job CPU limit", self.cpus)
        limits_form.addRow("Image cache budget", self.cache_mb)
        limits_form.addRow("Model cache budget", self.models_mb)
        limits_form.addRow("", self.models_usage)
        limits_form.addRow("Job outputs budget", self.outputs_mb)
        limits_form.addRow("Keep grid job outputs", self.outputs_days)
        limits_form.addRow("", self.outputs_usage)
        layout.addWidget(limits)
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced: grid, Solana, GPUs")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        layout.addWidget(self.advanced_toggle)
        self.advanced = QGroupBox()  # the toggle above names it
        advanced_form = QFormLayout(self.advanced)
        advanced_form.addRow("Grid URL", self.grid_url)
        advanced_form.addRow("Solana cluster", self.cluster)
        advanced_form.addRow("Solana RPC URL", self.rpc_url)
        advanced_form.addRow("GPUs", self.gpus)
        self.advanced.setVisible(False)
        self.advanced_toggle.toggled.connect(self.show_advanced)
        layout.addWidget(self.advanced)
        buttons = QHBoxLayout()
        self.message = Message()
        buttons.addWidget(self.message, 1)
        revert = QPushButton("Revert")
        revert.clicked.connect(self.load)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(revert)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.load()

    def show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        if self.advanced_toggle.isChecked() != shown:
            self.advanced_toggle.setChecked(shown)

    def load(self) -> None:
        s = self._services.settings
        self.grid_url.setText(s.grid.url or "")
        self.cluster.setCurrentText(s.solana.cluster)
        self.rpc_url.setText(s.solana.rpc_url or "")
        self.gpus.setText(", ".join(s.gpus.enabled_uuids or []))
        self.memory_mb.setValue(s.jobs.memory_mb)
        self.cpus.setValue(s.jobs.cpus)
        self.cache_mb.setValue(s.image_cache.budget_mb)
        self.models_mb.setValue(s.models.budget_mb)
        self.models_usage.setText(self.models_usage_text())
        self.outputs_mb.setValue(s.outputs.budget_mb)
        self.outputs_days.setValue(s.outputs.keep_days)
        self.outputs_usage.setText(self.outputs_usage_text())
        self.load_autostart()
        self.price.setText(price_text(s.electricity_milli_per_kwh))
        self.token_price.setText(price_text(s.token_price_milli) if s.token_price_milli else "")
        self.currency.setText(s.electricity_currency)
        for key, box in self.notifications.items():
            box.setChecked(bool(getattr(s.notifications, key)))
        self.message.setText("")

    def edited(self) -> Settings:
        """The form as a validated Settings; ValueError (ShapeError among them) says what is wrong."""
        data = self._services.settings.model_dump()
        gpus = [g.strip() for g in self.gpus.text().split(",") if g.strip()]
        data["grid"]["url"] = self.grid_url.text().strip() or None
        data["solana"]["cluster"] = self.cluster.currentText()
        data["solana"]["rpc_url"] = self.rpc_url.text().strip() or None
        data["gpus"]["enabled_uuids"] = gpus or None
        data["jobs"]["memory_mb"] = self.memory_mb.value()
        data["jobs"]["cpus"] = self.cpus.value()
        data["image_cache"]["budget_mb"] = self.cache_mb.value()
        data["models"]["budget_mb"] = self.models_mb.value()
        data["outputs"]["budget_mb"] = self.outputs_mb.value()
        data["outputs"]["keep_days"] = self.outputs_days.value()
        data["autostart"] = self.autostart.isChecked()
        data["electricity_milli_per_kwh"] = parse_price_milli(self.price.text())
        data["token_price_milli"] = parse_price_milli(self.token_price.text(), what="token value")
        data["electricity_currency"] = self.currency.text().strip()
        for key, box in self.notifications.items():
            data["notifications"][key] = box.isChecked()
        return Settings.model_validate(data)

    def outputs_usage_text(self) -> str:
        """What job outputs take on this machine now, against their budget (the node measures data/jobs)."""
        settings = self._services.settings.outputs
        usage, problem = self._usage("outputs")
        if usage is None:
            return f"Job outputs: size unknown ({problem})"
        used_mb = usage["bytes"] / 1_048_576
        return (
            f"Job outputs use {used_mb:.1f} MB of {settings.budget_mb} MB ({usage['percent']}%), "
            f"{usage['jobs']} jobs, {usage['entries']} files and folders"
        )

    def _usage(self, part: str) -> tuple[Any, str]:
        try:
            answer = self._services.client.storage_usage()
        except ControlError as exc:
            return None, one_line(exc)
        return answer[part], str(answer.get(f"{part}_problem") or "")

    def models_usage_text(self) -> str:
        """What the model cache holds against its budget, largest first (one line per resource)."""
        budget_mb = self._services.settings.models.budget_mb
        found, problem = self._usage("models")
        if found is None:
            return f"Model cache: size unknown ({problem})"
        entries = [_CachedModel(str(e["kind"]), str(e["label"]), int(e["size"])) for e in found]
        used = sum(entry.size for entry in entries)
        percent = used * 100 // (budget_mb * 1_048_576)
        # Binary MB, as the budget and the outputs line above: one unit on the page.
        lines = [f"Model cache uses {used / 1_048_576:.1f} MB of {budget_mb} MB ({percent}%), {len(entries)} models"]
        largest = sorted(entries, key=lambda entry: entry.size, reverse=True)
        for entry in largest[:MODELS_LISTED]:
            lines.append(f"  {entry.kind} {entry.label[:120]}: {entry.size / 1_048_576:.1f} MB")
        if len(largest) > MODELS_LISTED:
            lines.append(f"  … and {len(largest) - MODELS_LISTED} more")
        return "\n".join(lines)

    def load_autostart(self) -> None:
        """The checkbox shows what the platform really has (the user may have removed the entry)."""
        try:
            autostart = self._services.autostart()
            self.autostart.setEnabled(autostart.supported)
            self.autostart.setToolTip(autostart.reason)
            self.autostart.setChecked(autostart.supported and autostart.is_enabled())
        except Exception as exc:  # a broken registry or plist: say so, keep the page usable
            self.autostart.setEnabled(False)
            self.autostart.setToolTip(one_line(exc))

    def _apply_autostart(self, wanted: bool) -> None:
        from hostapp.autostart import AutostartError

        autostart = self._services.autostart()
        if not autostart.supported or autostart.is_enabled() == wanted:
            return
        try:
            autostart.enable() if wanted else autostart.disable()
        except (AutostartError, OSError) as exc:
            raise ValueError(f"start at login not changed: {one_line(exc)}") from None

    def save(self) -> None:
        try:
            settings = self.edited()
            self._apply_autostart(settings.autostart)
            self._services.save_settings(settings)
        except ShapeError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            self.message.error(f"Not saved: {where}: {error['msg']}")
            return
        except (ValueError, OSError) as exc:
            self.message.error(f"Not saved: {one_line(exc)}")
            return
        self.load_autostart()
        self.outputs_usage.setText(self.outputs_usage_text())
        self.models_usage.setText(self.models_usage_text())
        self.message.ok("Saved")


@dataclass(frozen=True)
class _CachedModel:
    kind: str
    label: str
    size: int
