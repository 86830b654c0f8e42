"""`python -m local_stack` (`make local`): the whole service on this machine until Ctrl-C."""

import logging
import os
import sys

from local_stack.runner import main

code = main()
# Everything is stopped and its logs are closed. Skip the interpreter's final garbage collection: after a
# large load the emulator's tables are millions of objects, and collecting them took over 20 s.
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
