"""Balikpapan's tables for the test deployment: the one place the tests declare areas, agencies and access.

``tests/conftest.py`` hands :data:`TABLES` to every ``make_deployment``; the
conformance tests build drivers with :data:`KIT_TABLES` (all four rollout areas).
"""

from __future__ import annotations

AREAS = """\
[areas.beruang_madu]
name = "Beruang Madu"
enabled = true

[areas.beller]
name = "Beller"
"""

# the two rollout areas the test deployment leaves out (some tests check that they are undeclared)
MORE_AREAS = """\
[areas.balikpapan_baru]
name = "Balikpapan Baru"

[areas.wika]
name = "Wika"
"""

AGENCIES = """\
[agencies.dishub]
name = "Dishub"

[agencies.polri]
name = "Polri"

[agencies.kejaksaan]
name = "Kejaksaan"

[agencies.pemkot]
name = "Pemkot"
"""

ACCESS = """\
[access.dishub]
cameras = ["dishub", "pemkot"]
data = ["dishub"]

[access.polri]
cameras = ["dishub", "polri", "pemkot"]
data = ["polri"]

[access.pemkot]
cameras = ["dishub", "polri", "pemkot"]
data = ["dishub", "polri", "pemkot"]
"""

TABLES = f"{AREAS}\n{AGENCIES}\n{ACCESS}"
KIT_TABLES = f"{AREAS}\n{MORE_AREAS}\n{AGENCIES}"
