"""The PDP benchmark (agentrange against Cedar and PyCasbin); the code is in benchmarks/pdp/.

Run: ``python benchmarks/pdp_vs_peers.py [--quick] ... [--json]``, the same as
``python -m benchmarks.pdp``; see :mod:`benchmarks.pdp` for what it measures and its options.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pdp.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
