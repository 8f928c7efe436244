"""One call that seeds every global random number generator a run can touch.

The env is seeded separately through ``env.reset(seed=...)`` by the agent, as Gymnasium
intends; this covers the process-wide generators: python, numpy's legacy global and torch.
"""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global generator and torch (CPU and all GPUs)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - code outside palaestra may use the global
    import torch  # here, so commands that never train do not pay torch's import time

    torch.manual_seed(seed)  # also seeds every CUDA device
