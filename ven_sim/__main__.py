"""`python -m ven_sim`: the same as the `ven-sim` command."""

from ven_sim.cli import main

if __name__ == "__main__":
    main()
