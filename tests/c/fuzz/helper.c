int fuzz_helper_with_a_long_name(int x) { return x * 3 + 1; }
