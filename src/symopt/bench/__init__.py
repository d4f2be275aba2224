"""``symopt bench``: optimizer step times against the memory-bandwidth bound (:mod:`.cli`)."""
