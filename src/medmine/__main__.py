"""``python -m medmine`` runs the command line."""

from medmine.cli import main

main()
