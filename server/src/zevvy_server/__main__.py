"""`python -m zevvy_server` runs the command line."""

from zevvy_server.cli import main

main()
