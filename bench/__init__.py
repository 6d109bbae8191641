"""`claimsops bench`: scenarios against the in-process simulator on loopback, with a fixed seed,
writing nothing outside a temporary directory."""
