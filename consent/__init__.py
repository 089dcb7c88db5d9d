"""Who may be synthesised, proven and signed: keys, voice profiles, the registry and the ledger."""
