from kernel_support import scratch_ns  # noqa: F401  (fixture shared by every test module)
