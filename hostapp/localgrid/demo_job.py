"""The embedded grid's demo inference job: a small dense network run on the CPU in pure Python.

Runs inside the demo container (no third-party packages there). It does real work: a seeded
3-layer MLP classifies a batch of synthetic inputs, and the run prints a checksum of the logits
the grid can verify plus throughput, so a user sees their machine compute something.
"""

import json
import os
import random
import sys
import time

Matrix = list[list[float]]


def matmul(a: Matrix, b: Matrix) -> Matrix:
    bt = list(zip(*b, strict=True))
    return [[sum(x * y for x, y in zip(row, col, strict=True)) for col in bt] for row in a]


def relu(m: Matrix) -> Matrix:
    return [[v if v > 0 else 0.0 for v in row] for row in m]


def main() -> int:
    batch = int(os.environ.get("DEMO_BATCH", "32"))
    width = int(os.environ.get("DEMO_WIDTH", "64"))
    seed = int(os.environ.get("DEMO_SEED", "7"))
    rng = random.Random(seed)
    layers = [[[rng.uniform(-1, 1) for _ in range(width)] for _ in range(width)] for _ in range(3)]
    x = [[rng.uniform(-1, 1) for _ in range(width)] for _ in range(batch)]
    started = time.perf_counter()
    for i, w in enumerate(layers):
        x = matmul(x, w)
        if i < len(layers) - 1:
            x = relu(x)
    elapsed = time.perf_counter() - started
    classes = [max(range(width), key=row.__getitem__) for row in x]
    checksum = round(sum(sum(row) for row in x), 6)
    flops = 2 * batch * width * width * len(layers)
    print(
        json.dumps(
            {
                "batch": batch,
                "width": width,
                "classes": classes[:8],
                "checksum": checksum,
                "mflops": round(flops / elapsed / 1e6, 2),
            }
        )
    )
    print(f"inference done: {batch} samples, checksum {checksum}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
