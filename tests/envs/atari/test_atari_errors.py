"""Atari ids and optional dependencies: what a user sees when either is wrong."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

from envs.atari import dependencies

REPO_ROOT = Path(__file__).resolve().parents[3]
EXTRA = 'pip install "palaestra[atari]"'


def block_import(monkeypatch: pytest.MonkeyPatch, blocked: str) -> None:
    """Make ``dependencies`` see ``blocked`` as not installed."""
    real = dependencies.importlib.import_module

    def import_module(name: str, package: str | None = None):
        if name == blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real(name, package)

    monkeypatch.setattr(dependencies.importlib, "import_module", import_module)


def test_importing_envs_needs_no_atari_dependency():
    # A fresh interpreter where ale_py and cv2 cannot be imported (None in sys.modules).
    code = textwrap.dedent(
        """
        import sys
        sys.modules["ale_py"] = sys.modules["cv2"] = None
        import envs, envs.atari
        from envs.atari import make_atari_env
        try:
            make_atari_env("ALE/Pong-v5")
        except Exception as e:
            print(type(e).__name__, e)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert out.stdout.startswith("DependencyNotInstalled ale-py is not installed")
    assert EXTRA in out.stdout


@pytest.mark.parametrize(("module", "distribution"), [("ale_py", "ale-py"), ("cv2", "opencv")])
def test_a_missing_dependency_names_the_extra(monkeypatch, module, distribution):
    pytest.importorskip("ale_py")
    from envs.atari import make_atari_env

    block_import(monkeypatch, module)
    with pytest.raises(gym.error.DependencyNotInstalled, match=distribution) as caught:
        make_atari_env("ALE/Pong-v5")
    assert EXTRA in str(caught.value)


def test_an_old_ale_py_is_refused_with_the_upgrade_command(monkeypatch):
    ale_py = pytest.importorskip("ale_py")
    monkeypatch.setattr(ale_py, "__version__", "0.11.2")
    with pytest.raises(gym.error.DependencyNotInstalled, match=r"ale-py >= 0\.12, found 0\.11"):
        dependencies.import_ale()


def test_version_tuple_reads_release_numbers():
    assert dependencies.version_tuple("0.12.1") == (0, 12, 1)
    assert dependencies.version_tuple("0.13.0rc1") == (0, 13)
    assert dependencies.version_tuple("1.0.dev0") == (1, 0)


@pytest.mark.parametrize("factory", ["single", "vector"])
def test_an_unknown_id_lists_close_matches(factory):
    pytest.importorskip("ale_py")
    from envs.atari import make_atari_env, make_atari_vector_env

    make = {"single": make_atari_env, "vector": lambda i: make_atari_vector_env(i, 1)}[factory]
    with pytest.raises(gym.error.UnregisteredEnv, match="did you mean ALE/Breakout-v5"):
        make("ALE/Breakot-v5")
    with pytest.raises(gym.error.UnregisteredEnv, match="'CartPole-v1' is not an Atari"):
        make("CartPole-v1")


def test_ids_of_every_ale_generation_name_their_rom():
    pytest.importorskip("ale_py")
    from envs.atari import is_atari_id, rom_name

    assert rom_name("ALE/MsPacman-v5") == "ms_pacman"
    assert rom_name("PongNoFrameskip-v4") == "pong"
    assert is_atari_id("Breakout-v0") and not is_atari_id("CartPole-v1")
