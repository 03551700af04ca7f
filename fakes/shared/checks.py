"""The tally of a fidelity scenario (fakes/*/fidelity/sdk_scenario.py): one
line per check (`ok   what` or `FAIL what detail`), then
`N passed, N failed` and the exit status. It holds the two counts only."""

import sys

passed = 0
failed = 0


def check(what, cond, detail=""):
    """Counts and prints one check."""
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what} {detail}")


def finish():
    """Prints the tally and exits, 1 when a check failed."""
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
