// The plan: a validated scenario expanded into concrete channels and
// processes, and its JSON form (<run dir>/plan.json).
//
// Contract: plan_from_json(plan_to_json(p)) == p for every field.  A plan read
// back is checked as strictly as a scenario (types, ranges, references
// between processes and channels) because workers trust it: a bad plan is a
// HarnessError, never a crash.
#include "ipctorture/plan.hpp"

#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "ipctorture/backend.hpp"
#include "ipctorture/errors.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/schedule.hpp"
#include "ipctorture/syscall_faults.hpp"
#include "scenario_faults.hpp"

namespace ipct {

using nlohmann::json;

namespace {

PlannedChannel plan_channel(const Scenario& s, std::size_t i) {
    const ChannelSpec& spec = s.channels[i];
    Contract c = find_backend(spec.backend)->contract(spec.options);
    PlannedChannel ch;
    ch.index = static_cast<std::uint32_t>(i);
    ch.name = spec.name;
    ch.backend = spec.backend;
    ch.options = spec.options;
    ch.checks = s.checks.empty() ? default_checks(c) : s.checks;
    ch.max_message = static_cast<std::uint32_t>(c.max_message);
    ch.boundaries = c.boundaries;
    ch.shape = c.shape;
    ch.bounds = spec.bounds;
    ch.mutant = spec.mutant;
    ch.proxy = spec.proxy;
    return ch;
}

std::uint32_t channel_of(const Scenario& s, const std::string& name) {
    for (std::size_t i = 0; i < s.channels.size(); ++i)
        if (s.channels[i].name == name) return static_cast<std::uint32_t>(i);
    IPCT_FAIL("unknown channel '" + name + "' in a validated scenario");
}

}  // namespace

std::vector<Check> default_checks(const Contract& c) {
    if (c.shape == ChannelShape::kCounter) return {Check::kCounter};
    if (c.shape == ChannelShape::kSnapshot) return {Check::kCorrupted};
    std::vector<Check> v;
    if (c.lossless) v.push_back(Check::kLost);
    v.push_back(Check::kDuplicated);
    v.push_back(Check::kCorrupted);
    // On a queue with priorities or types, FIFO holds within a class only (a
    // sender's later urgent message rightly overtakes its earlier one); the
    // queue-order rule checks exactly that, across senders too.
    if (c.fifo && !c.priority && !c.selective) v.push_back(Check::kFifo);
    if (c.priority) v.push_back(Check::kPriority);
    if (c.selective) v.push_back(Check::kSelective);
    if (c.last_delivery) v.push_back(Check::kLastDelivery);
    return v;
}

std::uint64_t derive_seed(std::uint64_t run_seed, std::uint64_t stream) {
    // mix64 is a bijection and the odd multiplier keeps streams apart, so the
    // seeds of one run are distinct; mixing run_seed first keeps nearby run
    // seeds from yielding shifted copies of each other's streams.
    return mix64(mix64(run_seed) + stream * 0x9e3779b97f4a7c15ull);
}

std::uint64_t perturb_seed(const PlannedProcess& p) {
    return derive_seed(p.seed, 0x7065727475726221ull);
}

Plan make_plan(const Scenario& s, std::uint64_t seed, const std::string& run_id,
               const std::string& run_dir) {
    validate_scenario(s);
    Plan plan;
    plan.scenario_name = s.name;
    plan.scenario_file = s.file;
    plan.scenario_cell = s.cell;
    plan.scenario_text = s.text;
    plan.seed = seed;
    plan.timeout_s = s.timeout_s;
    plan.run_id = run_id;
    plan.run_dir = run_dir;
    for (std::size_t i = 0; i < s.channels.size(); ++i) plan.channels.push_back(plan_channel(s, i));
    const std::vector<std::string> names = process_names(s);
    CpuAssigner cpus(allowed_cpus());
    std::uint32_t origin = 0;
    for (const ProcessSpec& spec : s.processes) {
        for (int k = 0; k < spec.count; ++k) {
            PlannedProcess p;
            p.index = static_cast<std::uint32_t>(plan.processes.size());
            p.name = names[p.index];
            p.role = spec.role;
            if (spec.role == Role::kRelay || spec.role == Role::kExec) {
                p.in_channel = channel_of(s, spec.input);
                p.out_channel = channel_of(s, spec.output);
                p.program = spec.program;
                p.program_path = spec.program_path;
                p.env = spec.env;
            } else if (spec.role == Role::kConsumer) {
                p.in_channel = channel_of(s, spec.channel);
            } else if (spec.role == Role::kSignaler) {
                p.targets = signaler_targets(s, spec);
                p.signal = spec.signal;
            } else {
                p.out_channel = channel_of(s, spec.channel);
                p.origin = origin++;
                // A producer with an input is a pinger: it waits for each
                // message's reply there (roles.cpp, `ipctorture bench`).
                if (!spec.input.empty()) p.in_channel = channel_of(s, spec.input);
            }
            p.seed = derive_seed(seed, std::uint64_t{p.index} + 1);
            p.workload = spec.workload;
            if (p.role == Role::kProducer && !p.workload.priority) {
                const ChannelSpec& out = s.channels[p.out_channel];
                const Contract c = find_backend(out.backend)->contract(out.options);
                if (c.has_priority) {
                    SizeDist d;
                    d.min = d.max = c.min_priority;
                    d.loc = p.workload.loc;
                    p.workload.priority = d;
                }
            }
            p.options = spec.options;
            p.sigsafe = spec.sigsafe;
            if (p.role != Role::kSignaler)  // it makes none of the calls
                p.syscall_faults = spec.syscall_faults.value_or(s.syscall_faults);
            if (p.in_channel != kNoChannel) {
                const ChannelSpec& in = s.channels[p.in_channel];
                p.request = find_backend(in.backend)->receive_request(in.options, p.options);
            }
            p.perturb = effective_perturb(s, spec);
            const CpuPlacement place = effective_placement(s, spec);
            p.placement = place.kind;
            p.cpus = cpus.next(place);
            plan.processes.push_back(std::move(p));
        }
    }
    plan.faults = plan_faults(s, seed);
    return plan;
}

ChannelSetup channel_setup(const Plan& plan, std::uint32_t c) {
    const PlannedChannel& ch = plan.channels.at(c);
    ChannelSetup s{plan.run_dir, plan.run_id, ch.name, ch.index, ch.options, plan.seed};
    s.mutant = ch.mutant;
    s.proxied = ch.proxy.has_value();
    for (const PlannedProcess& p : plan.processes) {
        if (p.in_channel == c) ++s.readers;
        if (p.out_channel == c) ++s.writers;
    }
    return s;
}

ChannelSetup channel_setup(const Plan& plan, std::uint32_t c, std::uint32_t process, Direction d) {
    ChannelSetup s = channel_setup(plan, c);
    const PlannedProcess& self = plan.processes.at(process);
    s.process = process;
    s.endpoint = self.options;
    for (std::uint32_t i = 0; i < process; ++i) {
        const PlannedProcess& p = plan.processes[i];
        if (d == Direction::kRead ? p.in_channel == c : p.out_channel == c) ++s.rank;
    }
    return s;
}

std::vector<int> signals_for(const Plan& plan, std::uint32_t p) {
    std::vector<int> v;
    for (const PlannedProcess& q : plan.processes)
        if (std::find(q.targets.begin(), q.targets.end(), p) != q.targets.end())
            v.push_back(q.signal);
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

std::string event_log_path(const std::string& run_dir, std::uint32_t process) {
    return (std::filesystem::path(run_dir) / ("events." + std::to_string(process) + ".log"))
        .string();
}

std::string event_log_path(const std::string& run_dir, std::uint32_t process,
                           std::uint32_t incarnation) {
    if (incarnation == 0) return event_log_path(run_dir, process);
    return (std::filesystem::path(run_dir) /
            ("events." + std::to_string(process) + "." + std::to_string(incarnation) + ".log"))
        .string();
}

std::string orchestrator_log_path(const std::string& run_dir) {
    return (std::filesystem::path(run_dir) / "events.orchestrator.log").string();
}

std::string proxy_log_path(const std::string& run_dir, std::uint32_t channel) {
    return (std::filesystem::path(run_dir) / ("events.proxy." + std::to_string(channel) + ".log"))
        .string();
}

// ---- to JSON ---------------------------------------------------------------

namespace {

const char* size_kind_name(SizeDist::Kind k) {
    switch (k) {
        case SizeDist::Kind::kFixed:
            return "fixed";
        case SizeDist::Kind::kUniform:
            return "uniform";
        case SizeDist::Kind::kChoice:
            return "choice";
    }
    return "?";
}

json loc_json(const SourceLoc& l) {
    return {{"file", l.file}, {"line", l.line}, {"column", l.column}};
}

json options_json(const Options& o) {
    json j = json::object();
    for (const auto& [key, v] : o) j[key] = {{"text", v.text}, {"loc", loc_json(v.loc)}};
    return j;
}

json size_json(const SizeDist& d) {
    return {{"kind", size_kind_name(d.kind)}, {"min", d.min},         {"max", d.max},
            {"choices", d.choices},           {"weights", d.weights}, {"loc", loc_json(d.loc)}};
}

json workload_json(const Workload& w) {
    return {{"messages", w.messages},
            {"duration_s", w.duration_s},
            {"size", size_json(w.size)},
            {"priority", w.priority ? size_json(*w.priority) : json(nullptr)},
            {"rate", w.rate},
            {"start_delay_s", w.start_delay_s},
            {"loc", loc_json(w.loc)}};
}

json optional_json(const std::optional<double>& v) {
    return v ? json(*v) : json(nullptr);
}

json bounds_json(const Bounds& b) {
    return {{"max_loss", optional_json(b.max_loss)},
            {"max_duplicate", optional_json(b.max_duplicate)},
            {"max_reorder", optional_json(b.max_reorder)},
            {"loc", loc_json(b.loc)}};
}

json proxy_json(const std::optional<ProxySpec>& p) {
    if (!p) return nullptr;
    return {{"drop", p->drop},   {"duplicate", p->duplicate},   {"reorder", p->reorder},
            {"delay", p->delay}, {"max_delay", p->max_delay_s}, {"max_segment", p->max_segment},
            {"cut", p->cut},     {"cut_after", p->cut_after},   {"loc", loc_json(p->loc)}};
}

json request_json(const ReceiveRequest& r) {
    return {{"order", static_cast<int>(r.order)},
            {"match", static_cast<int>(r.match)},
            {"type", r.type},
            {"per_reader", r.per_reader}};
}

json channel_ref_json(std::uint32_t c) {
    return c == kNoChannel ? json(nullptr) : json(c);
}

json channel_json(const PlannedChannel& c) {
    json checks = json::array();
    for (Check k : c.checks) checks.push_back(check_name(k));
    return {{"index", c.index},
            {"name", c.name},
            {"backend", c.backend},
            {"options", options_json(c.options)},
            {"checks", checks},
            {"max_message", c.max_message},
            {"boundaries", c.boundaries},
            {"shape", shape_name(c.shape)},
            {"bounds", bounds_json(c.bounds)},
            {"mutant", c.mutant},
            {"proxy", proxy_json(c.proxy)},
            {"state", c.state}};
}

json process_json(const PlannedProcess& p) {
    json j = {{"index", p.index},
              {"name", p.name},
              {"role", role_name(p.role)},
              {"in_channel", channel_ref_json(p.in_channel)},
              {"out_channel", channel_ref_json(p.out_channel)},
              {"origin", p.origin},
              {"seed", p.seed},
              {"workload", workload_json(p.workload)},
              {"options", options_json(p.options)},
              {"request", request_json(p.request)},
              {"targets", p.targets},
              {"signal", p.signal != 0 ? json(signal_name(p.signal)) : json(nullptr)},
              {"sigsafe", p.sigsafe},
              {"perturb", perturb_text(p.perturb)},
              {"placement", placement_name(p.placement)},
              {"cpus", p.cpus}};
    if (!p.syscall_faults.empty()) j["syscall_faults"] = syscall_faults_to_json(p.syscall_faults);
    if (p.role == Role::kExec) {
        j["program"] = p.program;
        j["program_path"] = p.program_path;
        j["env"] = p.env;  // [[name, value], ...]
    }
    return j;
}

}  // namespace

json plan_to_json(const Plan& p) {
    json channels = json::array(), processes = json::array();
    for (const PlannedChannel& c : p.channels) channels.push_back(channel_json(c));
    for (const PlannedProcess& q : p.processes) processes.push_back(process_json(q));
    return {{"version", p.version},
            {"scenario_name", p.scenario_name},
            {"scenario_file", p.scenario_file},
            {"scenario_cell", p.scenario_cell},
            {"scenario_text", p.scenario_text},
            {"seed", p.seed},
            {"timeout_s", p.timeout_s},
            {"run_id", p.run_id},
            {"run_dir", p.run_dir},
            {"channels", channels},
            {"processes", processes},
            {"faults", faults_to_json(p.faults)}};
}

// ---- from JSON -------------------------------------------------------------

namespace {

// One JSON object being read, with its path ("plan/processes/2") for errors.
class In {
  public:
    In(const json& j, std::string path) : j_(j), path_(std::move(path)) {
        if (!j_.is_object()) fail("expected an object");
    }
    [[noreturn]] void fail(const std::string& what) const {
        IPCT_FAIL("bad plan: " + path_ + ": " + what);
    }
    const json& at(const char* key) const {
        auto it = j_.find(key);
        if (it == j_.end()) fail(std::string("missing '") + key + "'");
        return *it;
    }
    In obj(const char* key) const { return In(at(key), path_ + "/" + key); }
    const json& array(const char* key) const {
        const json& a = at(key);
        if (!a.is_array()) fail(std::string("'") + key + "' is not an array");
        return a;
    }
    In element(const char* key, std::size_t i) const {
        return In(array(key)[i], path_ + "/" + key + "/" + std::to_string(i));
    }
    std::string str(const char* key) const {
        const json& v = at(key);
        if (!v.is_string()) fail(std::string("'") + key + "' is not a string");
        return v.get<std::string>();
    }
    bool flag(const char* key) const {
        const json& v = at(key);
        if (!v.is_boolean()) fail(std::string("'") + key + "' is not a boolean");
        return v.get<bool>();
    }
    double num(const char* key) const {
        const json& v = at(key);
        if (!v.is_number()) fail(std::string("'") + key + "' is not a number");
        return v.get<double>();
    }
    std::uint64_t uint(const char* key, std::uint64_t max) const {
        return uint_of(at(key), key, max);
    }
    std::uint64_t uint_of(const json& v, const char* key, std::uint64_t max) const {
        const bool ok =
            v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
        if (!ok || v.get<std::uint64_t>() > max)
            fail(std::string("'") + key + "' is not an integer in [0, " + std::to_string(max) +
                 "]");
        return v.get<std::uint64_t>();
    }
    const std::string& path() const { return path_; }
    bool has(const char* key) const { return j_.contains(key); }

  private:
    const json& j_;
    std::string path_;
};

constexpr std::uint64_t kU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kInt = std::numeric_limits<int>::max();

SourceLoc read_loc(const In& in) {
    return {in.str("file"), static_cast<int>(in.uint("line", kInt)),
            static_cast<int>(in.uint("column", kInt))};
}

Options read_options(const In& in, const json& j) {
    Options o;
    for (const auto& [key, v] : j.items()) {
        In e(v, in.path() + "/" + key);
        o[key] = OptionValue{e.str("text"), read_loc(e.obj("loc"))};
    }
    return o;
}

SizeDist read_size(const In& in, bool is_size = true) {
    SizeDist d;
    const std::string kind = in.str("kind");
    if (kind == "fixed")
        d.kind = SizeDist::Kind::kFixed;
    else if (kind == "uniform")
        d.kind = SizeDist::Kind::kUniform;
    else if (kind == "choice")
        d.kind = SizeDist::Kind::kChoice;
    else
        in.fail("unknown size kind '" + kind + "'");
    d.min = static_cast<std::uint32_t>(in.uint("min", kU32));
    d.max = static_cast<std::uint32_t>(in.uint("max", kU32));
    for (const json& c : in.array("choices"))
        d.choices.push_back(static_cast<std::uint32_t>(in.uint_of(c, "choices", kU32)));
    for (const json& w : in.array("weights")) {
        if (!w.is_number() || !(w.get<double>() > 0))
            in.fail("'weights' holds a non-positive weight");
        d.weights.push_back(w.get<double>());
    }
    d.loc = read_loc(in.obj("loc"));
    if (d.min > d.max) in.fail("min is greater than max");
    if (d.kind == SizeDist::Kind::kChoice &&
        (d.choices.empty() || d.choices.size() != d.weights.size()))
        in.fail("a choice size needs as many weights as choices, at least one");
    if (is_size && d.smallest() < kHeaderSize) in.fail("a size is below the message header");
    return d;
}

Workload read_workload(const In& in) {
    Workload w;
    w.messages = in.uint("messages", kU64);
    w.duration_s = in.num("duration_s");
    w.size = read_size(in.obj("size"));
    if (!in.at("priority").is_null()) w.priority = read_size(in.obj("priority"), false);
    w.rate = in.num("rate");
    w.start_delay_s = in.num("start_delay_s");
    w.loc = read_loc(in.obj("loc"));
    return w;
}

std::optional<ProxySpec> read_proxy(const In& ch) {
    if (ch.at("proxy").is_null()) return std::nullopt;
    const In in = ch.obj("proxy");
    ProxySpec p;
    for (auto [key, field] : {std::pair{"drop", &ProxySpec::drop},
                              std::pair{"duplicate", &ProxySpec::duplicate},
                              std::pair{"reorder", &ProxySpec::reorder},
                              std::pair{"delay", &ProxySpec::delay},
                              std::pair{"cut", &ProxySpec::cut}}) {
        const double v = in.num(key);
        if (!(v >= 0 && v <= 1)) in.fail(std::string("'") + key + "' is not a probability");
        p.*field = v;
    }
    p.max_delay_s = in.num("max_delay");
    if (!(p.max_delay_s >= 0)) in.fail("'max_delay' is negative");
    p.max_segment = static_cast<std::uint32_t>(in.uint("max_segment", kU32));
    p.cut_after = in.uint("cut_after", ~std::uint64_t{0});
    p.loc = read_loc(in.obj("loc"));
    return p;
}

PlannedChannel read_channel(const In& in) {
    PlannedChannel c;
    c.index = static_cast<std::uint32_t>(in.uint("index", kU32));
    c.name = in.str("name");
    c.backend = in.str("backend");
    c.options = read_options(in.obj("options"), in.at("options"));
    for (const json& k : in.array("checks")) {
        std::optional<Check> check =
            k.is_string() ? parse_check(k.get<std::string>()) : std::nullopt;
        if (!check) in.fail("unknown check " + k.dump());
        c.checks.push_back(*check);
    }
    c.max_message = static_cast<std::uint32_t>(in.uint("max_message", kU32));
    c.boundaries = in.flag("boundaries");
    const std::string shape = in.str("shape");
    const std::optional<ChannelShape> sh = parse_shape(shape);
    if (!sh) in.fail("unknown channel shape '" + shape + "'");
    c.shape = *sh;
    In b = in.obj("bounds");
    for (auto [key, field] : {std::pair{"max_loss", &Bounds::max_loss},
                              std::pair{"max_duplicate", &Bounds::max_duplicate},
                              std::pair{"max_reorder", &Bounds::max_reorder}}) {
        const json& v = b.at(key);
        if (v.is_null()) continue;
        if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1))
            b.fail(std::string("'") + key + "' is not a rate in [0, 1]");
        c.bounds.*field = v.get<double>();
    }
    c.bounds.loc = read_loc(b.obj("loc"));
    c.mutant = in.str("mutant");
    c.proxy = read_proxy(in);
    c.state = in.at("state");
    return c;
}

std::uint32_t read_channel_ref(const In& in, const char* key, std::size_t channels) {
    const json& v = in.at(key);
    if (v.is_null()) return kNoChannel;
    std::uint64_t c = in.uint(key, kU32);
    if (c >= channels) in.fail(std::string("'") + key + "' names no channel");
    return static_cast<std::uint32_t>(c);
}

void read_schedule(const In& in, PlannedProcess& p) {
    std::string why;
    std::optional<PerturbConfig> c = parse_perturb_text(in.str("perturb"), &why);
    if (!c) in.fail("'perturb': " + why);
    p.perturb = *c;
    const std::string placement = in.str("placement");
    bool known = false;
    for (auto k : {CpuPlacement::Kind::kAny, CpuPlacement::Kind::kSame, CpuPlacement::Kind::kSpread,
                   CpuPlacement::Kind::kList})
        if (placement == placement_name(k)) {
            p.placement = k;
            known = true;
        }
    if (!known) in.fail("unknown placement '" + placement + "'");
    for (const json& c : in.array("cpus")) {
        const auto cpu = static_cast<int>(in.uint_of(c, "cpus", CPU_SETSIZE - 1));
        if (!p.cpus.empty() && cpu <= p.cpus.back()) in.fail("'cpus' is not ascending");
        p.cpus.push_back(cpu);
    }
    if (p.cpus.empty() != (p.placement == CpuPlacement::Kind::kAny))
        in.fail("'cpus' does not fit the placement " + placement);
}

void read_program(const In& in, PlannedProcess& p) {
    for (const json& w : in.array("program")) {
        if (!w.is_string()) in.fail("'program' holds a non-string");
        p.program.push_back(w.get<std::string>());
    }
    if (p.program.empty()) in.fail("an exec process needs 'program'");
    p.program_path = in.str("program_path");
    for (const json& e : in.array("env")) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_string())
            in.fail("'env' holds something other than [name, value]");
        p.env.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
    }
}

PlannedProcess read_process(const In& in, std::size_t channels) {
    PlannedProcess p;
    p.index = static_cast<std::uint32_t>(in.uint("index", kU32));
    p.name = in.str("name");
    const std::string role = in.str("role");
    std::optional<Role> r = parse_role(role);
    if (!r) in.fail("unknown role '" + role + "'");
    p.role = *r;
    p.in_channel = read_channel_ref(in, "in_channel", channels);
    p.out_channel = read_channel_ref(in, "out_channel", channels);
    const bool reads = p.role == Role::kConsumer || p.role == Role::kRelay ||
                       p.role == Role::kExec ||
                       (p.role == Role::kProducer && p.in_channel != kNoChannel);  // a pinger
    const bool writes =
        p.role == Role::kProducer || p.role == Role::kRelay || p.role == Role::kExec;
    if (reads != (p.in_channel != kNoChannel) || writes != (p.out_channel != kNoChannel))
        in.fail(std::string("channels do not fit the role ") + role);
    p.origin = static_cast<std::uint32_t>(in.uint("origin", kU32));
    p.seed = in.uint("seed", kU64);
    p.workload = read_workload(in.obj("workload"));
    p.options = read_options(in.obj("options"), in.at("options"));
    In req = in.obj("request");
    p.request.order = static_cast<ReceiveRequest::Order>(req.uint("order", 3));
    p.request.match = static_cast<ReceiveRequest::Match>(req.uint("match", 3));
    p.request.type = static_cast<std::uint32_t>(req.uint("type", kU32));
    p.request.per_reader = req.flag("per_reader");
    for (const json& t : in.array("targets"))
        p.targets.push_back(static_cast<std::uint32_t>(in.uint_of(t, "targets", kU32)));
    const json& sig = in.at("signal");
    if (!sig.is_null()) {
        std::optional<int> n =
            sig.is_string() ? signaler_signal(sig.get<std::string>(), nullptr) : std::nullopt;
        if (!n) in.fail("'signal' is not a signal a signaler may send: " + sig.dump());
        p.signal = *n;
    }
    p.sigsafe = in.flag("sigsafe");
    if (in.has("syscall_faults")) p.syscall_faults = syscall_faults_from_json(in.at("syscall_faults"));
    read_schedule(in, p);
    if (p.role == Role::kExec) read_program(in, p);
    const bool signaler = p.role == Role::kSignaler;
    if (signaler != (p.signal != 0) || signaler == p.targets.empty())
        in.fail(signaler ? "a signaler needs 'signal' and 'targets'"
                         : "only a signaler has 'signal' and 'targets'");
    return p;
}

Plan read_plan(const In& in) {
    Plan p;
    p.version = static_cast<int>(in.uint("version", kInt));
    if (p.version != kPlanVersion)
        in.fail("version " + std::to_string(p.version) + ", expected " +
                std::to_string(kPlanVersion));
    p.scenario_name = in.str("scenario_name");
    p.scenario_file = in.str("scenario_file");
    p.scenario_cell = in.str("scenario_cell");
    p.scenario_text = in.str("scenario_text");
    p.seed = in.uint("seed", kU64);
    p.timeout_s = in.num("timeout_s");
    p.run_id = in.str("run_id");
    p.run_dir = in.str("run_dir");
    for (std::size_t i = 0; i < in.array("channels").size(); ++i) {
        p.channels.push_back(read_channel(in.element("channels", i)));
        if (p.channels.back().index != i)
            in.fail("channel " + std::to_string(i) + " has a wrong index");
    }
    if (p.channels.size() >= kNoChannel) in.fail("too many channels");
    for (std::size_t i = 0; i < in.array("processes").size(); ++i) {
        p.processes.push_back(read_process(in.element("processes", i), p.channels.size()));
        if (p.processes.back().index != i)
            in.fail("process " + std::to_string(i) + " has a wrong index");
    }
    for (const PlannedProcess& q : p.processes)
        for (std::uint32_t t : q.targets)
            if (t >= p.processes.size() || p.processes[t].role == Role::kSignaler)
                in.fail("signaler " + q.name + " targets " + std::to_string(t) +
                        ", which is not a process that uses channels");
    return p;
}

}  // namespace

Plan plan_from_json(const json& j) {
    try {
        Plan p = read_plan(In(j, "plan"));
        if (!j.is_object() || !j.contains("faults")) IPCT_FAIL("bad plan: no 'faults'");
        p.faults = faults_from_json(j["faults"], p.processes.size());
        return p;
    } catch (const json::exception& e) {
        IPCT_FAIL(std::string("bad plan: ") + e.what());
    }
}

}  // namespace ipct
