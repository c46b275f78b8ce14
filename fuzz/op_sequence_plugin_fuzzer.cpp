// Fuzz target: operation sequences on a backend from a plugin
// (ipctorture/plugin.h), both ends in this process, with the contract the
// plugin declares asserted after every step (op_sequence.hpp): one receive
// is one message (or, for a byte stream, the bytes in order), nothing lost,
// duplicated or corrupted, FIFO per writer if promised, end of file once
// every writer has closed.
//
// The plugin: $IPCTORTURE_PLUGIN (a path, or a bare name looked for as a
// scenario's is) with the channel options $IPCTORTURE_PLUGIN_OPTIONS
// ("key=value,key=value"); by default libexample_ring.so beside this binary
// (where .clusterfuzzlite/build.sh puts it in $OUT) or in the build tree's
// plugin directory, whose options the input's first byte picks.  The driver
// keeps at most 8 messages of at most 1 KiB in flight (its default for a
// backend it has no table for): a plugin's send must take that many without
// blocking.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ipctorture/plugin_loader.hpp"
#include "op_sequence.hpp"

namespace {

using ipct::Options;
using ipct::opseq::options;

std::string exe_dir() {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().string();
}

// The plugin's backend name, resolved once.  A plugin that cannot be found
// ends the fuzzer at its start, with the reason: not a finding.
const std::string& plugin() {
    static const std::string name = [] {
        const char* env = std::getenv("IPCTORTURE_PLUGIN");
        std::string spec = env && *env ? env : "";
        if (spec.empty()) {
            const std::string beside = exe_dir() + "/libexample_ring.so";
            spec = ::access(beside.c_str(), R_OK) == 0 ? beside : "example_ring";
        }
        try {
            return ipct::plugin_backend_name(
                ipct::resolve_plugin(spec, std::filesystem::current_path().string()));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "op_sequence_plugin_fuzzer: %s\n", e.what());
            std::exit(2);
        }
    }();
    return name;
}

// IPCTORTURE_PLUGIN_OPTIONS as options, or nothing.
const Options* environment_options() {
    static const Options* o = []() -> const Options* {
        const char* env = std::getenv("IPCTORTURE_PLUGIN_OPTIONS");
        if (!env) return nullptr;
        static Options parsed;
        std::string text(env);
        std::size_t at = 0;
        while (at < text.size()) {
            std::size_t end = text.find(',', at);
            if (end == std::string::npos) end = text.size();
            const std::string kv = text.substr(at, end - at);
            const std::size_t eq = kv.find('=');
            if (eq != std::string::npos)
                parsed[kv.substr(0, eq)] = ipct::OptionValue{kv.substr(eq + 1), {"env", 1, 1}};
            at = end + 1;
        }
        return &parsed;
    }();
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    // The example ring's options; a ring of at least 8 slots takes what the
    // driver keeps in flight.
    static const std::vector<Options> example{
        {},
        options({{"slots", "8"}}),
        options({{"slots", "8"}, {"max_message", "1024"}}),
        options({{"slots", "64"}, {"max_message", "64"}}),
    };
    ipct::opseq::Target t;
    t.backend = plugin();
    if (const Options* o = environment_options())
        t.channel = *o;
    else
        t.channel = example[in.ConsumeIntegralInRange<std::size_t>(0, example.size() - 1)];
    return ipct::opseq::run(t, in);
}
