"""Atari games (ale-py's ALE) with the DQN-paper preprocessing, one env or many.

    from envs.atari import AtariSettings, make_atari_env, make_atari_vector_env

    env = make_atari_env("ALE/Breakout-v5")                  # training variant, (4, 84, 84)
    env = make_atari_env("ALE/Breakout-v5", training=False)  # whole games, raw scores
    venv = make_atari_vector_env("ALE/Pong-v5", 8, AtariSettings(noop_max=0))

ale-py and OpenCV are optional (``pip install "palaestra[atari]"``): this package imports
without them and names the extra when an env is made. ``palaestra train --env ALE/Pong-v5``
picks these factories through :mod:`training.environments`.
"""

from envs.atari.dependencies import ATARI_EXTRA, import_ale
from envs.atari.factory import AtariSettings, make_atari_env
from envs.atari.games import atari_ids, is_atari_id, looks_like_ale_id, rom_name
from envs.atari.vector import AtariVectorPipeline, make_atari_vector_env

__all__ = [
    "ATARI_EXTRA",
    "AtariSettings",
    "AtariVectorPipeline",
    "atari_ids",
    "import_ale",
    "is_atari_id",
    "looks_like_ale_id",
    "make_atari_env",
    "make_atari_vector_env",
    "rom_name",
]
