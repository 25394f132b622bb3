"""pytest configuration: hypothesis profiles.

``ci`` (the default) runs the differential test on 500 programs, ``deep`` on
10,000; pick one with ``pytest --hypothesis-profile deep``. ``dev`` is a quick
smoke run (50 examples) for the edit-test loop.
"""

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=500, **_COMMON)
settings.register_profile("deep", max_examples=10_000, **_COMMON)
settings.register_profile("dev", max_examples=50, **_COMMON)
settings.load_profile("ci")
