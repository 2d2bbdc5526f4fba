"""Alias of ``benchmarks/gpu.py`` (the one GPU script: issue 4's parity checks + issue 6's performance table).

    python benchmarks/gpu_check.py [args]  ==  python benchmarks/gpu.py [args]

Kept so that older notes and ``tests/test_runtimes.py``'s skip reason still point somewhere that works.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gpu import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
