"""``python -m funchost``."""

from funchost.cli import main

raise SystemExit(main())
