"""Value types with no I/O: what a source read (`snapshot`), event kinds (`events`), digest
schedules (`schedule`), docket numbers reduced to one comparable form (`docket_numbers`) and
docket text without control characters, as the outputs write it (`text`)."""
