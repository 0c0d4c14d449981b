import sys

from callcare_web.cli import main

sys.exit(main())
