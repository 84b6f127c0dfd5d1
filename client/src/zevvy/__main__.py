"""``python -m zevvy``: the command line."""

from zevvy.cli import main

main()
