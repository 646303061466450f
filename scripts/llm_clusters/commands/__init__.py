"""The scripts' command lines, one module per entry script in scripts/."""
