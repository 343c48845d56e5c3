"""The web stage: the intranet pages units upload through (`perfeval-xl serve`)."""
