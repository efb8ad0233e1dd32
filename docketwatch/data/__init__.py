"""Files shipped with the package: the CourtListener court list."""
