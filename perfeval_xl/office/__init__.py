"""The office's work on a whole inbox: the roster, collect, and what it writes from the collection (summary, report, feedback, publish)."""
