"""``python -m overcast`` runs the CLI (handy under a debugger)."""

from overcast.cli import main

raise SystemExit(main())
