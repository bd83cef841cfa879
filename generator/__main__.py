"""`python -m generator` is the `trustcenter` command."""

from generator.cli import main

main()
