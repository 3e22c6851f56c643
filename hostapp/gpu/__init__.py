"""NVIDIA GPUs through NVML: detection, telemetry, process classification, qualification."""
