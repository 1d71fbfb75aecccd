"""The project's CrossGuard policy pack: `wi_policies` holds the validators, a module per concern; `__main__` builds
the pack."""
