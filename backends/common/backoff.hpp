// Sleeps between attempts of a non-blocking call that found a queue full or
// empty: from 10 us, doubling up to 1 ms.  (The shm backend has its own
// shm::Backoff that spins and yields before it sleeps.)
#pragma once

#include <time.h>

#include <algorithm>

namespace ipct {

class Backoff {
  public:
    void pause() {
        timespec ts{0, ns_};
        ::nanosleep(&ts, nullptr);
        ns_ = std::min(ns_ * 2, 1'000'000L);
    }

  private:
    long ns_ = 10'000;
};

}  // namespace ipct
