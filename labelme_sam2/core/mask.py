"""The one mask type every layer passes around."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Mask = NDArray[np.bool_]  # height x width, True on the object
