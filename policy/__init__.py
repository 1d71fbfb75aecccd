"""The project's CrossGuard policy pack; `wi_policies` holds the validators, `__main__` builds the pack."""
