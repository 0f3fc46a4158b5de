"""Allow ``python -m vlms_bayes``."""

from vlms_bayes.cli import main

raise SystemExit(main())
