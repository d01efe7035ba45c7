"""``python -m riskcore``: the command line (:mod:`riskcore.cli`)."""

from riskcore.cli import main

raise SystemExit(main())
