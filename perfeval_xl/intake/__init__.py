"""What comes in: the safety gate, then a filled workbook (read, fastread) or a Word annex (annexread) becomes a record."""
