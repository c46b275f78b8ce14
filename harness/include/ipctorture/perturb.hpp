// Schedule perturbation and CPU placement: ways to make races show.
//
// A perturbation point is a named place where another process's (or
// thread's) step in between matters: around every IPC call a role makes
// ("calls") and inside a backend's critical windows, between reading shared
// state and acting on it ("windows").  At each visit the calling thread's
// perturber decides, with the configured probability, to yield the CPU, spin
// for a bounded random number of pause instructions, or sleep for a random
// time up to a maximum; otherwise it does nothing.
//
// Reproducible: the decision for the n-th visit of site s is a pure function
// of (seed, s, n).  The seed is the run seed mixed with the process's plan
// index, so one run seed makes the same decisions in every process, and
// each site has its own counter, so a site's decisions do not shift when
// another site is visited more or less often (a retry loop that spins longer
// on a busy machine leaves the other sites' streams alone).  What the
// decisions cannot make reproducible is the kernel's scheduling; they make
// the same schedules likely, not certain.
//
// The state is per thread: each thread configures its own perturber, and a
// thread that never did is not perturbed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ipct {

enum class Site : std::uint8_t {
    // calls: around every send and receive a role makes, outside the
    // operation's logged [start, end]
    kBeforeSend,
    kAfterSend,
    kBeforeReceive,
    kAfterReceive,
    // windows: inside a backend's critical windows
    kWindow,       // a window with no finer name
    kIndexToSlot,  // between reading a shared index and using the slot it names
    kSlotToIndex,  // between using a slot and publishing the index
    kCopyPiece,    // between two pieces of one copy
    kLoadToStore,  // between loading a shared value and storing it back
};
inline constexpr int kSites = 9;
const char* site_name(Site s);
bool site_is_call(Site s);

enum class PerturbKind : std::uint8_t { kNone, kYield, kSpin, kSleep };
const char* perturb_kind_name(PerturbKind k);

struct PerturbConfig {
    // Bits of `kinds` and `sites`.
    static constexpr std::uint8_t kYield = 1, kSpin = 2, kSleep = 4;
    static constexpr std::uint8_t kCalls = 1, kWindows = 2;

    double probability = 0;          // per visit of an enabled site, in [0, 1]
    std::uint64_t max_sleep_ns = 0;  // a sleep lasts 1 .. max_sleep_ns
    std::uint32_t max_spin = 0;      // a spin runs 1 .. max_spin pause instructions
    std::uint8_t kinds = 0;          // which of yield, spin, sleep may be chosen (uniformly)
    std::uint8_t sites = 0;          // which classes of sites are perturbed

    bool on() const { return probability > 0 && kinds != 0 && sites != 0; }
    bool operator==(const PerturbConfig&) const = default;

    static PerturbConfig off() { return {}; }
    // What a scenario that says nothing gets: light noise (yield or a spin of
    // at most 512 pauses at 3 visits in 8) in backends' critical windows
    // only.  It widens the races of deliberately unsynchronised code enough
    // to catch them in nearly every run, costs little, and leaves call sites
    // (and so the throughput of every other backend) alone.
    static PerturbConfig builtin_default();
    // The values a `perturb:` map (or a short form) leaves out.
    static PerturbConfig map_defaults();
};

// Why c is not a usable configuration (probability outside [0, 1], a
// maximum of 0 or above its limit for a kind it uses, no kind or no site
// while on); empty when it is.
std::string perturb_config_error(const PerturbConfig& c);
inline constexpr std::uint64_t kMaxPerturbSleepNs = 1'000'000'000;  // 1 s
inline constexpr std::uint32_t kMaxPerturbSpin = 10'000'000;

struct PerturbDecision {
    PerturbKind kind = PerturbKind::kNone;
    std::uint64_t amount = 0;  // pause instructions for a spin, nanoseconds for a sleep
    bool operator==(const PerturbDecision&) const = default;
};

// The decision for the n-th visit (from 0) of site s in stream `seed`.
PerturbDecision perturb_decide(const PerturbConfig& c, std::uint64_t seed, Site s, std::uint64_t n);

// One stream of decisions, counting visits per site.
class Perturber {
  public:
    Perturber() = default;
    Perturber(const PerturbConfig& c, std::uint64_t seed) : cfg_(c), seed_(seed) {}
    PerturbDecision next(Site s) {
        return perturb_decide(cfg_, seed_, s, visits_[static_cast<int>(s)]++);
    }
    const PerturbConfig& config() const { return cfg_; }
    std::uint64_t visits(Site s) const { return visits_[static_cast<int>(s)]; }

  private:
    PerturbConfig cfg_;
    std::uint64_t seed_ = 0;
    std::array<std::uint64_t, kSites> visits_{};
};

struct PerturbStats {
    std::uint64_t yields = 0, spins = 0, sleeps = 0;
};

// What a thread's perturber did, so that two runs can be compared: the
// first kPerturbTraceLimit decisions that did something (yield, spin,
// sleep), in the order made, and per site the visits, the decisions that
// did something and a digest of all of those (visit, kind, amount) in visit
// order.  Bounded: past the limit only the counts and digests go on.
inline constexpr std::size_t kPerturbTraceLimit = 4096;
struct PerturbTraceEntry {
    Site site = Site::kWindow;
    std::uint64_t visit = 0;  // the site's visit number, from 0
    PerturbDecision decision;
    bool operator==(const PerturbTraceEntry&) const = default;
};
struct PerturbSiteTrace {
    std::uint64_t visits = 0;  // every visit, acted on or not
    std::uint64_t acted = 0;   // decisions that did something
    // The site's visits whose decisions `entries` holds: every visit, unless
    // the limit was reached (then those before it).
    std::uint64_t covered = 0;
    std::uint64_t digest = 0;  // of every acted decision, whether listed or not
    bool operator==(const PerturbSiteTrace&) const = default;
};
struct PerturbTrace {
    std::vector<PerturbTraceEntry> entries;
    std::array<PerturbSiteTrace, kSites> sites{};
    bool truncated = false;  // decisions past the limit were left out of entries
    // Adds the n-th visit of s's decision d, which did something; `p`
    // counts the visits.
    void add(Site s, std::uint64_t n, const PerturbDecision& d, const Perturber& p);
    // Sets each site's visits (and coverage) from p at the end.
    void finish(const Perturber& p);
};

// Where two traces of one process's stream disagree, per site, over the
// visits both cover, and their digests where both saw the same number of
// visits; empty when they agree.  Each difference is a line of text.
std::vector<std::string> perturb_trace_differences(const PerturbTrace& a, const PerturbTrace& b);

// The calling thread's perturber: configure it once (before the start
// barrier), then call perturb_point at every site.  Unconfigured or off, a
// point costs one call and a test.
void perturb_configure(const PerturbConfig& c, std::uint64_t seed);
void perturb_point(Site s);
PerturbStats perturb_stats();  // what this thread's points did so far
PerturbTrace perturb_trace();  // and which decisions they carried out
// Carries out one decision now (sleeps resume after signals).
void perturb_execute(const PerturbDecision& d);

// CPU placement.  The CPUs this process may run on (sched_getaffinity),
// ascending.
std::vector<int> allowed_cpus();
// Restricts the calling thread to `cpus`; returns 0 or the errno.
int pin_to_cpus(const std::vector<int>& cpus);
// "0-3,6" for a display.
std::string cpu_list_text(const std::vector<int>& cpus);

}  // namespace ipct
