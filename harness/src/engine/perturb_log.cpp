#include "ipctorture/perturb_log.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "ipctorture/errors.hpp"
#include "ipctorture/junit.hpp"
#include "ipctorture/schedule.hpp"

namespace ipct {

namespace {

std::string hex64(std::uint64_t x) {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(x));
    return b;
}

std::optional<Site> site_named(const std::string& name) {
    for (int k = 0; k < kSites; ++k)
        if (name == site_name(Site(k))) return Site(k);
    return std::nullopt;
}

std::optional<PerturbKind> kind_named(const std::string& name) {
    for (PerturbKind k : {PerturbKind::kYield, PerturbKind::kSpin, PerturbKind::kSleep})
        if (name == perturb_kind_name(k)) return k;
    return std::nullopt;
}

}  // namespace

std::string perturb_log_path(const std::string& run_dir, std::uint32_t process) {
    return run_dir + "/perturb." + std::to_string(process) + ".json";
}

void write_perturb_log(const std::string& path, const PlannedProcess& p, const PerturbTrace& t) {
    nlohmann::json sites = nlohmann::json::object();
    for (int k = 0; k < kSites; ++k) {
        const PerturbSiteTrace& s = t.sites[k];
        if (s.visits == 0) continue;
        sites[site_name(Site(k))] = {{"visits", s.visits},
                                     {"acted", s.acted},
                                     {"covered", s.covered},
                                     {"digest", hex64(s.digest)}};
    }
    nlohmann::json decisions = nlohmann::json::array();
    for (const PerturbTraceEntry& e : t.entries)
        decisions.push_back(
            {site_name(e.site), e.visit, perturb_kind_name(e.decision.kind), e.decision.amount});
    const nlohmann::json j{{"process", p.name},
                           {"index", p.index},
                           {"perturb", perturb_text(p.perturb)},
                           {"limit", kPerturbTraceLimit},
                           {"truncated", t.truncated},
                           {"sites", sites},
                           {"decisions", decisions}};
    write_file_atomically(path, j.dump() + "\n");
}

PerturbTrace read_perturb_log(const std::string& path) {
    std::ifstream in(path);
    if (!in) IPCT_FAIL_ERRNO("cannot read " + path);
    PerturbTrace t;
    try {
        const nlohmann::json j = nlohmann::json::parse(in);
        t.truncated = j.at("truncated").get<bool>();
        for (const auto& [name, s] : j.at("sites").items()) {
            const std::optional<Site> site = site_named(name);
            if (!site) IPCT_FAIL(path + ": unknown site '" + name + "'");
            PerturbSiteTrace& st = t.sites[static_cast<int>(*site)];
            st.visits = s.at("visits").get<std::uint64_t>();
            st.acted = s.at("acted").get<std::uint64_t>();
            st.covered = s.at("covered").get<std::uint64_t>();
            st.digest = std::stoull(s.at("digest").get<std::string>(), nullptr, 16);
        }
        for (const nlohmann::json& d : j.at("decisions")) {
            const std::optional<Site> site = site_named(d.at(0).get<std::string>());
            const std::optional<PerturbKind> kind = kind_named(d.at(2).get<std::string>());
            if (!site || !kind) IPCT_FAIL(path + ": bad decision " + d.dump());
            t.entries.push_back(
                {*site, d.at(1).get<std::uint64_t>(), {*kind, d.at(3).get<std::uint64_t>()}});
        }
    } catch (const nlohmann::json::exception& e) {
        IPCT_FAIL(path + ": " + e.what());
    } catch (const std::logic_error& e) {  // stoull
        IPCT_FAIL(path + ": bad digest: " + e.what());
    }
    return t;
}

}  // namespace ipct
