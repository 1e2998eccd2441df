"""The doubling-then-bisection search that `bench --streams` and `bench --serve` share."""

from streamse.bench.streams import largest_passing


def test_largest_passing_finds_the_threshold_with_few_probes():
    for limit in (1, 7, 64, 512):
        for threshold in (0, 1, 2, 3, 5, 31, 32, 33, 100, 511, 512, 600):
            tried: list[int] = []

            def ok(n: int) -> bool:
                tried.append(n)
                return n <= threshold

            assert largest_passing(ok, limit) == min(threshold, limit), (limit, threshold)
            assert max(tried) <= limit and len(tried) <= 2 * limit.bit_length() + 1
