"""A form: its spec (fields, labels, rules), where each cell goes (layout) and what its values mean when typed (normalize)."""
