"""Training procedures (source, TGMB, TGKT, SHOT, SOCKET...) and inference.

Importing the package imports every module in it: each transfer method registers itself in
`xmt.methods.objective.METHODS` from its own module, so the registry is whole wherever it is read.
"""

from xmt.registry import import_submodules

import_submodules(__name__)
