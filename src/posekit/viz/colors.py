"""Colors for bodyparts and individuals, from a matplotlib colormap name."""

from __future__ import annotations

import numpy as np


def bodypart_colors(n: int, colormap: str = "rainbow") -> np.ndarray:
    """One RGB color per bodypart, evenly spread over ``colormap``.

    Parameters
    ----------
    n : int
        Number of colors.
    colormap : str
        A matplotlib colormap name (DeepLabCut's ``colormap`` config key); unknown names
        fall back to ``rainbow``.

    Returns
    -------
    ndarray, shape (n, 3)
        uint8 RGB colors.
    """
    from matplotlib import colormaps

    cmap = colormaps[colormap] if colormap in colormaps else colormaps["rainbow"]
    values = cmap(np.linspace(0.0, 1.0, max(n, 1)))[:n, :3]
    return np.round(values * 255).astype(np.uint8)
