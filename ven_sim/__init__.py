"""ven-sim, the application: the CLI, transports, brokers, certificates, benchmarks, live mode.

Kept empty on purpose: every `import ven_sim.<anything>` runs this first. The command group
is `ven_sim.cli.main`; `ven-sim --version` reads the installed package's version.
"""

__all__: list[str] = []
