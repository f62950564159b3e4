"""REST API of impedance (EIS) results."""
