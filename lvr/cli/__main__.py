"""`python -m lvr.cli ...` — the same command line as `lvr ...` (how background jobs run CLI commands)."""
from lvr.cli import cli

if __name__ == "__main__":
    cli(prog_name="lvr")
