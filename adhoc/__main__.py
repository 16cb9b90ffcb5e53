import sys

from adhoc.cli import main

sys.exit(main())
