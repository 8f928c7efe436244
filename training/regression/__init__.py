"""Reward-curve regression tests: cases, baselines, statistics, plots (``palaestra regress``).

A *case* (``case.py``) trains one learner on one env with several seeds and evaluates its
greedy policy at fixed steps (``runner.py``). Its curves are compared with a *baseline*
stored in the repository (``baseline.py``): bit-identical curves pass at once, any other
curves go through an IQM test with stratified bootstrap intervals (``statistics.py``,
``verdict.py``). ``report.py`` draws the PNGs and the markdown table, ``suite.py`` is the
Python API and ``cli.py`` the command group.

The default locations are relative to the repository root, where CI and the command run.
This module stays import-light: the command line reads these defaults at start-up.
"""

from pathlib import Path

CASES_DIR = Path("tests/regression/cases")
"""One YAML file per case; the file name is the case name."""
BASELINES_DIR = Path("tests/regression/baselines")
"""One JSON curve file per case, committed with the code it was blessed on."""
RESULTS_DIR = Path("runs/regression")
"""Curves, PNGs and ``report.md`` of the latest ``palaestra regress run``."""
