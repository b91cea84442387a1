"""Shared pytest set-up: hypothesis profiles.

``dev`` (the default) keeps local runs quick; ``ci`` (chosen when the CI environment variable is
true) runs more examples, derandomized so a CI failure reproduces. ``HYPOTHESIS_PROFILE=name``
picks one explicitly. Tests that set ``max_examples`` themselves keep their own numbers.
"""

import os

from hypothesis import HealthCheck, settings

# Graph generation imports TensorFlow and builds protobufs: slow by hypothesis's standards.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, print_blob=True, suppress_health_check=_SLOW_OK
)
_default = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
