"""Value types with no I/O: what a source read (`snapshot`), event kinds (`events`), digest
schedules (`schedule`) and docket numbers reduced to one comparable form (`docket_numbers`)."""
