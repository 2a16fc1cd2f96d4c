"""PII detection and replacement: Presidio's analyzer, offline, behind our own seams.

The modules, from settings to processes: :mod:`.kinds` (tags), :mod:`.settings`
(the component's ``pii*`` fields), :mod:`.recognizers` and :mod:`.analyzer`
(Presidio, built once per configuration), :mod:`.replace` (redaction,
pseudonymisation, restoration), :mod:`.pool` (worker processes) and
:mod:`.engine` (what the process resources hold).

Importing this package sets ``TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS`` to empty, before
any of its modules can import Presidio: Presidio's e-mail recognizer uses
tldextract, which otherwise fetches the public suffix list from the internet, with
no timeout, on first use. Empty means "use the snapshot bundled with tldextract".
"""

from __future__ import annotations

import os

# Must run before tldextract is imported anywhere (it reads the variable once, when
# its module-level extractor is built): every Presidio import in pyllm goes through
# this package, whose __init__ runs first.
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

__all__: list[str] = []
