"""Published inputs shared by several tests (each with its source)."""

import numpy as np

# Richard & Roncalli (2019), Table 9 universe: 8 assets (bonds then equities).
RR_VOL = np.array([0.05, 0.05, 0.07, 0.10, 0.15, 0.15, 0.15, 0.18])
RR_CORR = (
    np.array(
        [
            [100, 80, 60, -20, -10, -20, -20, -20],
            [80, 100, 40, -20, -20, -10, -20, -20],
            [60, 40, 100, 50, 30, 20, 20, 30],
            [-20, -20, 50, 100, 60, 60, 50, 60],
            [-10, -20, 30, 60, 100, 90, 70, 70],
            [-20, -10, 20, 60, 90, 100, 60, 70],
            [-20, -20, 20, 50, 70, 60, 100, 70],
            [-20, -20, 30, 60, 70, 70, 70, 100],
        ]
    )
    / 100
)
RR_COV = np.outer(RR_VOL, RR_VOL) * RR_CORR
RR_NAMES = ["B1", "B2", "B3", "B4", "E1", "E2", "E3", "E4"]
