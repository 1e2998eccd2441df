import sys

from streamse.cli import main

sys.exit(main())
