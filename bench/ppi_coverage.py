"""Coverage of the corrected adherence interval (PPI++) by simulation, per labelled-sample size.

Run: ``python bench/ppi_coverage.py [runs]``. A judge with known error rates answers on 1,000
unlabelled images; people label n more. Target: 93-97% at every size.
"""

from __future__ import annotations

import sys
import time

from viewfinder.score.ppi_coverage import LABELLED_SIZES, ppi_coverage


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    print(f"PPI++ 95% interval coverage, {runs} simulated studies per row, 1000 unlabelled images")
    print("coverage: ours (t quantile, pseudo-labels); normal: the ppi_py.ppi_mean_ci interval")
    print(f"{'judge (sens/spec)':>18} {'labelled n':>10} {'coverage':>9} {'width':>7} {'normal':>7} {'width':>7}")
    started = time.perf_counter()
    for sensitivity, specificity in ((0.85, 0.7), (0.95, 0.95), (0.6, 0.5)):
        for n in LABELLED_SIZES:
            tuned, width = ppi_coverage(n, runs=runs, sensitivity=sensitivity, specificity=specificity)
            normal, normal_width = ppi_coverage(
                n, runs=runs, sensitivity=sensitivity, specificity=specificity, small_sample=False
            )
            print(
                f"{sensitivity:>9.2f}/{specificity:<8.2f} {n:>10} {tuned:>9.3f} {width:>7.3f} "
                f"{normal:>7.3f} {normal_width:>7.3f}"
            )
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
