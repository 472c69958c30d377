import not_a_real_module_for_idx_tests  # noqa: F401
