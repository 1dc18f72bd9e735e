"""The PDP benchmark (agentrange against Cedar and PyCasbin); the code is in benchmarks/pdp/.

Run: ``python benchmarks/pdp_vs_peers.py [--quick] ... [--json]``, the same as
``python -m benchmarks.pdp``; see :mod:`benchmarks.pdp` for what it measures and its options.
With ``AGENTRANGE_PRODUCT_TREE=TREE`` it measures that tree's engine with this benchmark.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks  # noqa: F401 - this tree's benchmark code, whichever engine it measures

# ``benchmarks/against.py --same-benchmark`` measures another tree's engine with this tree's
# benchmark: that tree's packages (engine/, sim/) then come first.
if os.environ.get("AGENTRANGE_PRODUCT_TREE"):
    sys.path.insert(0, os.environ["AGENTRANGE_PRODUCT_TREE"])

from benchmarks.pdp.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
