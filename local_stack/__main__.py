"""`python -m local_stack` (`make local`): the whole service on this machine until Ctrl-C."""

from local_stack.runner import main

raise SystemExit(main())
