"""`python -m costmetrics_cli`: the same as the `costmetrics` console script."""

from costmetrics_cli.main import main

raise SystemExit(main())
