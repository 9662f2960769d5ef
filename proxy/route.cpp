#include "route.hpp"

namespace loopgate {

void DialHistogram::observe(double seconds) {
    for (size_t i = 0; i < kBuckets; ++i) {
        if (seconds <= kBoundsSeconds[i]) ++at_most[i];
    }
    ++count;
    sum_seconds += seconds;
}

}  // namespace loopgate
