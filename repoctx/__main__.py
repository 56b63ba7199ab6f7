import sys

from repoctx.cli import main

sys.exit(main())
