"""Training: the ``palaestra`` command and the Python API it mirrors.

>>> from training import train, evaluate_run
>>> result = train(env="palaestra/TinyGrid-v0", steps=2000, seed=1)  # doctest: +SKIP
>>> evaluate_run(result.run_dir)["success_rate"]  # doctest: +SKIP
1.0

Heavy modules (torch, tensorboard, matplotlib, pygame) load only when a function needs them.
"""

from training.config import ConfigError, TrainConfig
from training.evaluation import evaluate, evaluate_run
from training.run import RunResult, resume, train
from training.watch import watch

__all__ = [
    "ConfigError",
    "RunResult",
    "TrainConfig",
    "evaluate",
    "evaluate_run",
    "resume",
    "train",
    "watch",
]
