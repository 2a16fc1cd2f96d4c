"""``python -m component``."""

from __future__ import annotations

import sys

from component.cli import main

sys.exit(main())
