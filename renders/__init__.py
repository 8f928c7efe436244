"""Frame drawing (numpy), overlays for tabular agents, a pygame viewer and GIF/MP4 export.

The public names are loaded on first use (PEP 562): an env that imports
``renders.gridworld`` for its per-step frames must not pay for, or initialise, pygame,
Pillow or matplotlib, and ``import renders`` alone loads none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "AGENT_COLOR": "gridworld",
    "CELL_COLORS": "gridworld",
    "OPEN_DOOR_COLOR": "gridworld",
    "draw_grid": "gridworld",
    "draw_graph": "graph",
    "normalize_positions": "graph",
    "paint_agent": "gridworld",
    "policy_arrows": "overlays",
    "tabular_overlay": "overlays",
    "value_heatmap": "overlays",
    "visit_counts": "overlays",
    "PygameViewer": "viewer",
    "save_gif": "export",
    "save_mp4": "export",
}

__all__ = [
    "AGENT_COLOR",
    "CELL_COLORS",
    "OPEN_DOOR_COLOR",
    "PygameViewer",
    "draw_graph",
    "draw_grid",
    "normalize_positions",
    "paint_agent",
    "policy_arrows",
    "save_gif",
    "save_mp4",
    "tabular_overlay",
    "value_heatmap",
    "visit_counts",
]

if TYPE_CHECKING:
    from renders.export import save_gif, save_mp4
    from renders.graph import draw_graph, normalize_positions
    from renders.gridworld import (
        AGENT_COLOR,
        CELL_COLORS,
        OPEN_DOOR_COLOR,
        draw_grid,
        paint_agent,
    )
    from renders.overlays import policy_arrows, tabular_overlay, value_heatmap, visit_counts
    from renders.viewer import PygameViewer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
