import sys

from hotline.app.cli import main

sys.exit(main())
