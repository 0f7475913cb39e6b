"""A planted extractor for the comparator's tests: it reads nothing from any network, so a grid's
extraction outcomes are known in advance. Imported as a plugin (``compare(..., plugins=[...])``)."""
from __future__ import annotations

from extraction import Reading, extractor


@extractor("_planted_abstain")
def planted_abstain():
    """Abstains on every network, with its reason."""

    def run(trained, budget, rng):
        return Reading(None, ("planted: reads nothing",), status="abstained")

    return run
