# A stand-in for the kubernetes Python client (not installable here), just
# enough to turn the examples' k8s.V1… objects into API JSON for validation.
