"""The A2A protocol's objects and wire format, as langstar makes and reads them."""
