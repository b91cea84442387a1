"""Shared pytest set-up: TensorFlow's environment, hypothesis profiles.

Test modules import TensorFlow directly, before graphrewrite would set its defaults; setting
them here first makes the suite run TensorFlow as the tool does (TensorFlow's kernels, not
oneDNN's, whose depthwise-convolution primitives failed on 1x1 shapes on CI's CPUs).

``dev`` (the default) keeps local runs quick; ``ci`` (chosen when the CI environment variable is
true) runs more examples, derandomized so a CI failure reproduces. ``HYPOTHESIS_PROFILE=name``
picks one explicitly. Tests that set ``max_examples`` themselves keep their own numbers.
"""

import os

from hypothesis import HealthCheck, settings

from graphrewrite._tf import set_environment_defaults

set_environment_defaults()

# Graph generation imports TensorFlow and builds protobufs: slow by hypothesis's standards.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", max_examples=20, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, print_blob=True, suppress_health_check=_SLOW_OK
)
_default = "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))
