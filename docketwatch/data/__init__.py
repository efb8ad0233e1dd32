"""Files shipped with the package: the CourtListener court list and the court feed coverage snapshot."""
