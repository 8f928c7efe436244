"""Test-wide settings: headless pygame and matplotlib, so the suite runs without a display;
and one torch thread.

The tests' networks are tiny, where torch's intra-op threads cost more than they give, and
on a machine whose other core is busy its spinning worker threads wait for a core: the
transformer's pointer-learning test took 235 s with torch's default of 2 threads while one
core ran a benchmark, and about 3 s with one. Learners that set ``torch_threads`` still set
their own (and restore this afterwards).
"""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # after the display settings, which must come first

torch.set_num_threads(1)
