// The arithmetic of repeated runs: the Wilson score interval against values
// worked out by hand (z = 1.959964), its edges (0 of n, n of n, no runs),
// and what counts as reproducing a run's signatures.
#include "ipctorture/repeat.hpp"

#include <gtest/gtest.h>

namespace ipct {
namespace {

// By hand, with z^2 = 3.841459: centre = (p + z^2/2n) / (1 + z^2/n), half
// width = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).
TEST(Wilson, HandComputedValues) {
    // 5 of 10: centre 0.5, half width 1.959964 * sqrt(0.025 + 0.0096037) / 1.3841459.
    RateInterval r = wilson_interval(5, 10);
    EXPECT_DOUBLE_EQ(r.rate, 0.5);
    EXPECT_NEAR(r.low, 0.236593, 1e-5);
    EXPECT_NEAR(r.high, 0.763407, 1e-5);
    // 1 of 20: centre (0.05 + 0.0960365) / 1.1920730 = 0.122506, half width
    // 1.959964 * sqrt(0.002375 + 0.0024009) / 1.1920730 = 0.113625.
    r = wilson_interval(1, 20);
    EXPECT_DOUBLE_EQ(r.rate, 0.05);
    EXPECT_NEAR(r.low, 0.008881, 1e-5);
    EXPECT_NEAR(r.high, 0.236131, 1e-5);
    // 3 of 4: centre (0.75 + 0.4801824) / 1.9603647 = 0.627527, half width
    // 1.959964 * sqrt(0.046875 + 0.0600228) / 1.9603647 = 0.326885.
    r = wilson_interval(3, 4);
    EXPECT_NEAR(r.low, 0.300642, 1e-5);
    EXPECT_NEAR(r.high, 0.954413, 1e-5);
}

// 0 of n is not a rate of 0 for sure: the interval reaches up to
// z^2/(n + z^2) (0.277533 for n = 10, 0.036994 for n = 100); n of n mirrors it.
TEST(Wilson, NoneAndAll) {
    RateInterval r = wilson_interval(0, 10);
    EXPECT_EQ(r.rate, 0.0);
    EXPECT_EQ(r.low, 0.0);
    EXPECT_NEAR(r.high, 0.277533, 1e-5);
    r = wilson_interval(10, 10);
    EXPECT_EQ(r.rate, 1.0);
    EXPECT_NEAR(r.low, 0.722467, 1e-5);
    EXPECT_EQ(r.high, 1.0);
    r = wilson_interval(0, 100);
    EXPECT_NEAR(r.high, 0.036994, 1e-5);
    r = wilson_interval(100, 100);
    EXPECT_NEAR(r.low, 0.963006, 1e-5);
    r = wilson_interval(1, 1);
    EXPECT_NEAR(r.low, 0.206549, 1e-5);  // 1 / (1 + z^2)
    EXPECT_EQ(r.high, 1.0);
}

TEST(Wilson, NoRunsSaysNothing) {
    const RateInterval r = wilson_interval(0, 0);
    EXPECT_EQ(r.rate, 0.0);
    EXPECT_EQ(r.low, 0.0);
    EXPECT_EQ(r.high, 1.0);
}

TEST(Wilson, NarrowsWithMoreRunsAndStaysInside) {
    double last = 1;
    for (std::uint32_t n = 2; n <= 2048; n *= 2) {
        const RateInterval r = wilson_interval(n / 2, n);
        EXPECT_LE(r.low, 0.5);
        EXPECT_GE(r.high, 0.5);
        EXPECT_LT(r.high - r.low, last) << n;
        last = r.high - r.low;
    }
    for (std::uint32_t k = 0; k <= 7; ++k) {
        const RateInterval r = wilson_interval(k, 7);
        EXPECT_GE(r.low, 0.0);
        EXPECT_LE(r.high, 1.0);
        EXPECT_LE(r.low, r.rate);
        EXPECT_GE(r.high, r.rate);
    }
}

TEST(Wilson, Text) {
    EXPECT_EQ(rate_text(wilson_interval(5, 10)), "50% (95% CI 24%-76%)");
    EXPECT_EQ(rate_text(wilson_interval(0, 100)), "0% (95% CI 0%-3.7%)");
}

TEST(Reproduces, EveryWantedSignatureMustShow) {
    const std::set<std::string> lost{"lost/q/consumer"};
    const std::set<std::string> both{"lost/q/consumer", "duplicated/q/consumer"};
    EXPECT_TRUE(reproduces(lost, lost));
    EXPECT_TRUE(reproduces(both, lost)) << "more findings still reproduce the original";
    EXPECT_FALSE(reproduces(lost, both));
    EXPECT_FALSE(reproduces({}, lost));
    EXPECT_FALSE(reproduces({"lost/r/consumer"}, lost)) << "another channel is another bug";
    EXPECT_TRUE(reproduces({}, {})) << "a passing run is reproduced by a pass";
    EXPECT_FALSE(reproduces(lost, {}));
}

}  // namespace
}  // namespace ipct
