"""Background work: the loops a `mitra worker` process runs."""
