"""Keep openpyxl on the XML path the reader's safety relies on, with lxml installed.

python-docx (the Word annex, `publish`) brings lxml, and openpyxl switches to lxml whenever it
can import it: then it parses a workbook's parts with lxml's `fromstring` (entities left
unresolved), not defusedxml's, so an entity declaration is silently ignored instead of refused
(E006), and it writes its XML in another form. Everything the reader and the tests check was
built on openpyxl's standard-library path; this module, imported before openpyxl by the
package's `__init__`, keeps it there unless the caller chose otherwise (OPENPYXL_LXML set).
It must run before the first `import openpyxl` of the process: openpyxl decides on import.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENPYXL_LXML", "False")
