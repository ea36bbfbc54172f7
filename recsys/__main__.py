"""Entry point of ``python -m recsys`` (see recsys.cli)."""
import sys

from recsys.cli import main

sys.exit(main())
