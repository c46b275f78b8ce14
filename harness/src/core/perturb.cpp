#include "ipctorture/perturb.hpp"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cerrno>

#include "ipctorture/message.hpp"

namespace ipct {

const char* site_name(Site s) {
    switch (s) {
        case Site::kBeforeSend:
            return "before_send";
        case Site::kAfterSend:
            return "after_send";
        case Site::kBeforeReceive:
            return "before_receive";
        case Site::kAfterReceive:
            return "after_receive";
        case Site::kWindow:
            return "window";
        case Site::kIndexToSlot:
            return "index_to_slot";
        case Site::kSlotToIndex:
            return "slot_to_index";
        case Site::kCopyPiece:
            return "copy_piece";
        case Site::kLoadToStore:
            return "load_to_store";
    }
    return "?";
}

bool site_is_call(Site s) {
    return s <= Site::kAfterReceive;
}

const char* perturb_kind_name(PerturbKind k) {
    switch (k) {
        case PerturbKind::kNone:
            return "none";
        case PerturbKind::kYield:
            return "yield";
        case PerturbKind::kSpin:
            return "spin";
        case PerturbKind::kSleep:
            return "sleep";
    }
    return "?";
}

PerturbConfig PerturbConfig::builtin_default() {
    PerturbConfig c;
    c.probability = 0.375;
    c.max_spin = 512;
    c.max_sleep_ns = 200'000;  // as a map's: adding sleep to the kinds is then one edit
    c.kinds = kYield | kSpin;
    c.sites = kWindows;
    return c;
}

PerturbConfig PerturbConfig::map_defaults() {
    PerturbConfig c;
    c.probability = 0.05;
    c.max_sleep_ns = 200'000;
    c.max_spin = 2000;
    c.kinds = kYield | kSpin | kSleep;
    c.sites = kCalls | kWindows;
    return c;
}

std::string perturb_config_error(const PerturbConfig& c) {
    if (!(c.probability >= 0 && c.probability <= 1))
        return "the probability must be in [0, 1], got " + std::to_string(c.probability);
    if (c.probability == 0) return {};
    if (c.kinds == 0 ||
        (c.kinds & ~(PerturbConfig::kYield | PerturbConfig::kSpin | PerturbConfig::kSleep)) != 0)
        return "expected at least one of the kinds yield, spin, sleep";
    if (c.sites == 0 || (c.sites & ~(PerturbConfig::kCalls | PerturbConfig::kWindows)) != 0)
        return "expected at least one of the sites calls, windows";
    if ((c.kinds & PerturbConfig::kSleep) &&
        (c.max_sleep_ns == 0 || c.max_sleep_ns > kMaxPerturbSleepNs))
        return "max_sleep must be above 0 and at most 1s when sleep is a kind";
    if ((c.kinds & PerturbConfig::kSpin) && (c.max_spin == 0 || c.max_spin > kMaxPerturbSpin))
        return "max_spin must be between 1 and " + std::to_string(kMaxPerturbSpin) +
               " when spin is a kind";
    return {};
}

PerturbDecision perturb_decide(const PerturbConfig& c, std::uint64_t seed, Site s,
                               std::uint64_t n) {
    const std::uint8_t cls = site_is_call(s) ? PerturbConfig::kCalls : PerturbConfig::kWindows;
    if (!c.on() || !(c.sites & cls)) return {};
    // One stream per (seed, site); the visit number indexes into it.
    const std::uint64_t stream = mix64(seed ^ mix64(0x7065727475726200ull + std::uint64_t(s)));
    const std::uint64_t r = mix64(stream + n * 0x9e3779b97f4a7c15ull);
    const double u = double(r >> 11) * 0x1.0p-53;
    if (!(u < c.probability)) return {};
    const std::uint64_t r2 = mix64(r ^ 0x6b696e64ull);
    PerturbKind enabled[3];
    int k = 0;
    if (c.kinds & PerturbConfig::kYield) enabled[k++] = PerturbKind::kYield;
    if (c.kinds & PerturbConfig::kSpin) enabled[k++] = PerturbKind::kSpin;
    if (c.kinds & PerturbConfig::kSleep) enabled[k++] = PerturbKind::kSleep;
    PerturbDecision d;
    d.kind = enabled[(r2 & 0xff) % std::uint64_t(k)];
    if (d.kind == PerturbKind::kSpin) d.amount = 1 + (r2 >> 8) % c.max_spin;
    if (d.kind == PerturbKind::kSleep) d.amount = 1 + (r2 >> 8) % c.max_sleep_ns;
    return d;
}

namespace {

std::uint64_t entry_hash(std::uint64_t n, const PerturbDecision& d) {
    return mix64(n * 0x9e3779b97f4a7c15ull ^ (std::uint64_t(d.kind) << 56) ^ mix64(d.amount));
}

}  // namespace

void PerturbTrace::add(Site s, std::uint64_t n, const PerturbDecision& d, const Perturber& p) {
    PerturbSiteTrace& t = sites[static_cast<int>(s)];
    ++t.acted;
    t.digest = mix64(t.digest ^ entry_hash(n, d));
    if (entries.size() < kPerturbTraceLimit) {
        entries.push_back({s, n, d});
        return;
    }
    if (truncated) return;
    // From here on nothing is listed: each site's list covers the visits it
    // had before this one.
    truncated = true;
    for (int k = 0; k < kSites; ++k) sites[k].covered = p.visits(Site(k));
    t.covered = n;
}

void PerturbTrace::finish(const Perturber& p) {
    for (int k = 0; k < kSites; ++k) {
        sites[k].visits = p.visits(Site(k));
        if (!truncated) sites[k].covered = sites[k].visits;
    }
}

std::vector<std::string> perturb_trace_differences(const PerturbTrace& a, const PerturbTrace& b) {
    std::vector<std::string> out;
    for (int k = 0; k < kSites; ++k) {
        const Site s = Site(k);
        const std::uint64_t common = std::min(a.sites[k].covered, b.sites[k].covered);
        std::vector<PerturbTraceEntry> da, db;
        for (const PerturbTraceEntry& e : a.entries)
            if (e.site == s && e.visit < common) da.push_back(e);
        for (const PerturbTraceEntry& e : b.entries)
            if (e.site == s && e.visit < common) db.push_back(e);
        std::size_t i = 0;
        while (i < da.size() && i < db.size() && da[i] == db[i]) ++i;
        if (i < da.size() || i < db.size()) {
            const PerturbTraceEntry& e = i < da.size() ? da[i] : db[i];
            out.push_back(std::string(site_name(s)) + ": the decisions differ from visit " +
                          std::to_string(i < da.size() && i < db.size()
                                             ? std::min(da[i].visit, db[i].visit)
                                             : e.visit) +
                          " (of " + std::to_string(common) + " visits both list)");
        }
        if (a.sites[k].visits == b.sites[k].visits && a.sites[k].digest != b.sites[k].digest)
            out.push_back(std::string(site_name(s)) + ": the digests of " +
                          std::to_string(a.sites[k].visits) + " visits differ");
    }
    return out;
}

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Kept in this file only: an extern thread_local in a header once made GCC
// call a TLS init function through a null weak reference (errors.hpp).
struct ThreadState {
    bool on = false;
    Perturber perturber;
    PerturbStats stats;
    PerturbTrace trace;
};
thread_local ThreadState g_state;

}  // namespace

void perturb_execute(const PerturbDecision& d) {
    switch (d.kind) {
        case PerturbKind::kNone:
            return;
        case PerturbKind::kYield:
            ::sched_yield();
            return;
        case PerturbKind::kSpin:
            for (std::uint64_t i = 0; i < d.amount; ++i) cpu_relax();
            return;
        case PerturbKind::kSleep: {
            timespec ts{static_cast<time_t>(d.amount / 1'000'000'000),
                        static_cast<long>(d.amount % 1'000'000'000)};
            while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
            return;
        }
    }
}

void perturb_configure(const PerturbConfig& c, std::uint64_t seed) {
    g_state.on = c.on();
    g_state.perturber = Perturber(c, seed);
    g_state.stats = {};
    g_state.trace = {};
}

void perturb_point(Site s) {
    ThreadState& st = g_state;
    if (!st.on) return;
    const std::uint64_t n = st.perturber.visits(s);
    const PerturbDecision d = st.perturber.next(s);
    if (d.kind == PerturbKind::kNone) return;
    const int saved = errno;  // a point may stand between a call and its errno check
    perturb_execute(d);
    errno = saved;
    st.trace.add(s, n, d, st.perturber);
    switch (d.kind) {
        case PerturbKind::kYield:
            ++st.stats.yields;
            break;
        case PerturbKind::kSpin:
            ++st.stats.spins;
            break;
        case PerturbKind::kSleep:
            ++st.stats.sleeps;
            break;
        case PerturbKind::kNone:
            break;
    }
}

PerturbStats perturb_stats() {
    return g_state.stats;
}

PerturbTrace perturb_trace() {
    PerturbTrace t = g_state.trace;
    t.finish(g_state.perturber);
    return t;
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> out;
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return out;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) out.push_back(c);
    return out;
}

int pin_to_cpus(const std::vector<int>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus) {
        if (c < 0 || c >= CPU_SETSIZE) return EINVAL;
        CPU_SET(c, &set);
    }
    return ::sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}

std::string cpu_list_text(const std::vector<int>& cpus) {
    std::string out;
    for (std::size_t i = 0; i < cpus.size();) {
        std::size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
        out += (out.empty() ? "" : ",") + std::to_string(cpus[i]);
        if (j > i) out += "-" + std::to_string(cpus[j]);
        i = j + 1;
    }
    return out;
}

}  // namespace ipct
