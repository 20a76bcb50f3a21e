"""lvyue ledger: aggregates, the chained event store, Merkle tree and checkpoints, projections, CLI."""
