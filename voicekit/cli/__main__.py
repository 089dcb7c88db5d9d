import sys

from voicekit.cli import main

sys.exit(main())
