"""Testing aids: the local Messages API emulator and the pytest plugin (layer: top)."""
