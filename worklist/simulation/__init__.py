"""What sharing buys: a discrete-event simulation (SimPy) of the region under routing policies."""
