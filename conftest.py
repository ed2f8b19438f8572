"""Every pytest run, notebooks included (their kernels inherit this environment), is offline."""

import test_settings

test_settings.apply()
