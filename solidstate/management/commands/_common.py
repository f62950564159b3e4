"""What the solid-state commands share: refusing a file with exit status 2 and a message naming it."""
import sys


def refuse(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()
    raise SystemExit(2)
