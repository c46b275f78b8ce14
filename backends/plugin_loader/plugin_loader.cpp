// The plugin loader: a library written against plugin.h, behind Backend.
//
// Each process loads a library once per path (dlopen, RTLD_NOW: a missing
// symbol is an error at load time, not in the middle of a run) and keeps it
// loaded: the Backend objects are singletons like the built-in ones.  Every
// check of the table happens here, before the first call into it, so that a
// plugin built for another ABI is refused with both versions named instead
// of being called through a wrong layout.
#include "ipctorture/plugin_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "common/backoff.hpp"
#include "ipctorture/message.hpp"
#include "ipctorture/plugin.h"

namespace ipct {

namespace fs = std::filesystem;

namespace {

// The members of ABI version 1: a table smaller than this is refused.
constexpr std::size_t kTableV1Size =
    offsetof(ipctorture_plugin, process_gone) + sizeof(ipctorture_plugin::process_gone);

// ch as the plugin sees it: C strings that live as long as this object.
class CChannel {
  public:
    CChannel(const ChannelSetup& ch, const Options& o) : setup_(ch) {
        for (const auto& [k, v] : o) {
            keys_.push_back(k);
            values_.push_back(v.text);
            locs_.push_back(v.loc);
        }
        for (std::size_t i = 0; i < keys_.size(); ++i)
            opts_.push_back({keys_[i].c_str(), values_[i].c_str()});
        c_.run_id = setup_.run_id.c_str();
        c_.run_dir = setup_.run_dir.c_str();
        c_.name = setup_.name.c_str();
        c_.index = setup_.index;
        c_.writers = setup_.writers;
        c_.readers = setup_.readers;
        c_.seed = setup_.seed;
        c_.options = opts_.empty() ? nullptr : opts_.data();
        c_.option_count = opts_.size();
    }
    explicit CChannel(const ChannelSetup& ch) : CChannel(ch, ch.options) {}
    const ipctorture_plugin_channel* get() const { return &c_; }
    // Where option i stands in the scenario, if i names one.
    const SourceLoc* loc(int i) const {
        return i >= 0 && static_cast<std::size_t>(i) < locs_.size() ? &locs_[i] : nullptr;
    }
    const std::string& key(int i) const { return keys_.at(i); }

  private:
    ChannelSetup setup_;
    std::vector<std::string> keys_, values_;
    std::vector<SourceLoc> locs_;
    std::vector<ipctorture_plugin_option> opts_;
    ipctorture_plugin_channel c_{};
};

ipctorture_plugin_error fresh_error() {
    ipctorture_plugin_error e;
    std::memset(&e, 0, sizeof e);
    e.option = -1;
    return e;
}

std::string message_of(const ipctorture_plugin_error& e) {
    const std::size_t n = strnlen(e.message, sizeof e.message);
    return n ? std::string(e.message, n) : std::string("no reason given");
}

class PluginEndpoint final : public Endpoint {
  public:
    PluginEndpoint(const ipctorture_plugin* t, void* ep, bool stream)
        : t_(t), ep_(ep), stream_(stream) {}
    ~PluginEndpoint() override { close(); }

    // Whole message, resuming short writes (a byte stream) and pausing while
    // the plugin says it would block.  A message plugin that takes part of a
    // message has broken its contract: EPROTO, recorded like any errno.
    IoResult send(std::span<const std::byte> msg) override {
        IoResult r;
        Backoff pause;
        while (r.done < msg.size()) {
            const std::size_t left = msg.size() - r.done;
            std::size_t done = 0;
            int err = 0;
            ++r.calls;
            const int st = t_->send(ep_, msg.data() + r.done, left, &done, &err);
            if (st == IPCT_PLUGIN_WOULD_BLOCK) {
                pause.pause();
                continue;
            }
            if (st == IPCT_PLUGIN_ERROR) {
                r.done += std::min(done, left);
                if (err == EINTR && (stream_ || r.done == 0)) {
                    count_eintr_retry();
                    continue;
                }
                r.err = err ? err : EIO;
                return r;
            }
            if (st != IPCT_PLUGIN_OK || done == 0 || done > left || (!stream_ && done != left)) {
                r.err = EPROTO;
                return r;
            }
            r.done += done;
        }
        return r;
    }

    IoResult receive(std::span<std::byte> buf) override {
        IoResult r;
        Backoff pause;
        for (;;) {
            std::size_t got = 0;
            int err = 0;
            ++r.calls;
            const int st = t_->receive(ep_, buf.data(), buf.size(), &got, &err);
            switch (st) {
                case IPCT_PLUGIN_OK:
                    if (got == 0 || got > buf.size()) r.err = EPROTO;
                    r.done = r.err ? 0 : got;
                    return r;
                case IPCT_PLUGIN_WOULD_BLOCK:
                    pause.pause();
                    continue;
                case IPCT_PLUGIN_EOF:
                    r.err = -1;
                    return r;
                case IPCT_PLUGIN_ERROR:
                    if (err == EINTR) {
                        count_eintr_retry();
                        continue;
                    }
                    r.err = err ? err : EIO;
                    return r;
                default:
                    r.err = EPROTO;
                    return r;
            }
        }
    }

    void close() override {
        if (ep_) t_->close(ep_);
        ep_ = nullptr;
    }

  private:
    const ipctorture_plugin* t_;
    void* ep_;
    bool stream_;
};

class PluginBackend final : public Backend {
  public:
    PluginBackend(std::string path, const ipctorture_plugin* t)
        : name_(plugin_backend_name(path)), path_(std::move(path)), t_(t) {}

    std::string_view name() const override { return name_; }
    std::string_view summary() const override { return summary_; }
    void set_summary() {
        summary_ = std::string("plugin ") + t_->name + ": " + (t_->summary ? t_->summary : "");
    }

    Contract contract(const Options& o) const override {
        const CChannel c(ChannelSetup{}, o);
        ipctorture_plugin_contract pc;
        std::memset(&pc, 0, sizeof pc);
        ipctorture_plugin_error e = fresh_error();
        if (t_->contract(c.get(), &pc, &e) != IPCT_PLUGIN_OK) fail(c, e, "contract()");
        if (pc.unit != IPCT_PLUGIN_UNIT_MESSAGE && pc.unit != IPCT_PLUGIN_UNIT_BYTE_STREAM)
            throw PluginError(who() + ": contract(): unit " + std::to_string(pc.unit) +
                              " is neither IPCT_PLUGIN_UNIT_MESSAGE nor _BYTE_STREAM");
        if (pc.max_message < kHeaderSize)
            throw PluginError(who() + ": contract(): max_message " +
                              std::to_string(pc.max_message) + " is below the " +
                              std::to_string(kHeaderSize) + "-byte message header");
        Contract k;
        const bool message = pc.unit == IPCT_PLUGIN_UNIT_MESSAGE;
        k.unit = message ? "message" : "byte stream";
        k.boundaries = message;
        k.fifo = pc.fifo != 0;
        k.lossless = pc.lossless != 0;
        k.max_message = static_cast<std::size_t>(pc.max_message);
        k.notes = pc.notes ? pc.notes : "";
        return k;
    }

    // An option the plugin names is reported at its place; a refusal that
    // names none is a PluginError the scenario loader puts at `plugin:`.
    void validate(const Options& o) const override {
        const CChannel c(ChannelSetup{}, o);
        ipctorture_plugin_error e = fresh_error();
        if (t_->validate(c.get(), &e) != IPCT_PLUGIN_OK) fail(c, e, "");
        contract(o);
    }

    nlohmann::json create(const ChannelSetup& ch) override {
        const CChannel c(ch);
        std::vector<char> state(IPCTORTURE_PLUGIN_STATE_MAX, '\0');
        ipctorture_plugin_error e = fresh_error();
        if (t_->create(c.get(), state.data(), state.size(), &e) != IPCT_PLUGIN_OK)
            throw EnvironmentError(who() + ": channel '" + ch.name + "': " + message_of(e));
        state.back() = '\0';
        return std::string(state.data());
    }

    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json& st,
                                   Direction d) override {
        const CChannel c(ch);
        ipctorture_plugin_error e = fresh_error();
        const std::string s = state_text(st);
        void* ep =
            t_->open(c.get(), s.c_str(),
                     d == Direction::kRead ? IPCT_PLUGIN_READ : IPCT_PLUGIN_WRITE, ch.rank, &e);
        if (!ep)
            throw EnvironmentError(who() + ": channel '" + ch.name + "': open: " + message_of(e));
        const bool stream = contract(ch.options).unit[0] == 'b';
        return std::make_unique<PluginEndpoint>(t_, ep, stream);
    }

    void process_gone(const ChannelSetup& ch, const nlohmann::json& st, Direction d) override {
        if (!t_->process_gone) return;
        const CChannel c(ch);
        ipctorture_plugin_error e = fresh_error();
        const std::string s = state_text(st);
        const int dir = d == Direction::kRead ? IPCT_PLUGIN_READ : IPCT_PLUGIN_WRITE;
        if (t_->process_gone(c.get(), s.c_str(), dir, ch.rank, &e) != IPCT_PLUGIN_OK)
            throw EnvironmentError(who() + ": channel '" + ch.name +
                                   "': process_gone: " + message_of(e));
    }

    // Never throws: the orchestrator cleans up on every path out of a run,
    // destructors included.  What the plugin could not remove it says on
    // stderr, which is all a cleanup can do.
    void cleanup(const ChannelSetup& ch, const nlohmann::json& st) override {
        const CChannel c(ch);
        ipctorture_plugin_error e = fresh_error();
        const std::string s = state_text(st);
        if (t_->cleanup(c.get(), s.c_str(), &e) != IPCT_PLUGIN_OK) {
            const std::string m =
                who() + ": channel '" + ch.name + "': cleanup: " + message_of(e) + "\n";
            (void)!::write(STDERR_FILENO, m.data(), m.size());
        }
    }

    std::string explain() const override {
        const Contract c = contract({});
        std::string s = summary_ + "\n  library: " + path_ + "\n  ABI version " +
                        std::to_string(t_->abi_version) + ", table of " + std::to_string(t_->size) +
                        " bytes\n";
        s += "  with no options: unit " + std::string(c.unit) + ", largest message " +
             std::to_string(c.max_message) + " bytes, " +
             (c.fifo ? "FIFO per writer" : "no order promised") + ", " +
             (c.lossless ? "lossless" : "loss allowed") + "\n";
        if (!c.notes.empty()) s += "  " + c.notes + "\n";
        return s;
    }

  private:
    std::string who() const { return "plugin " + std::string(t_->name) + " (" + path_ + ")"; }

    static std::string state_text(const nlohmann::json& st) {
        return st.is_string() ? st.get<std::string>() : std::string();
    }

    [[noreturn]] void fail(const CChannel& c, const ipctorture_plugin_error& e,
                           const std::string& where) const {
        const std::string what = "plugin " + std::string(t_->name) + (where.empty() ? "" : " ") +
                                 where + ": " + message_of(e);
        if (const SourceLoc* l = c.loc(e.option))
            throw ScenarioError(l->file, l->line, l->column,
                                "option '" + c.key(e.option) + "': " + what);
        throw PluginError(what);
    }

    std::string name_;
    std::string path_;
    const ipctorture_plugin* t_;
    std::string summary_;
};

// The table's members a version-1 harness calls without checking.
std::string missing_member(const ipctorture_plugin& t) {
    if (!t.name || !t.name[0]) return "name";
    if (!t.validate) return "validate";
    if (!t.contract) return "contract";
    if (!t.create) return "create";
    if (!t.open) return "open";
    if (!t.send) return "send";
    if (!t.receive) return "receive";
    if (!t.close) return "close";
    if (!t.cleanup) return "cleanup";
    return "";
}

std::unique_ptr<PluginBackend> open_library(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw PluginError("plugin library " + path + " does not exist");
    ::dlerror();
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char* why = ::dlerror();
        throw PluginError("cannot load plugin library " + path + ": " +
                          (why ? why : "dlopen failed"));
    }
    // From here on the library stays loaded even when it is refused: code
    // in it may already have run (constructors), and unloading it buys
    // nothing in a short-lived process.
    ::dlerror();
    void* sym = ::dlsym(h, IPCTORTURE_PLUGIN_ENTRY);
    if (!sym)
        throw PluginError("plugin library " + path +
                          " does not export " IPCTORTURE_PLUGIN_ENTRY
                          " (declare it with IPCTORTURE_PLUGIN_EXPORT from ipctorture/plugin.h, "
                          "with C linkage)");
    ipctorture_plugin_entry entry;
    std::memcpy(&entry, &sym, sizeof entry);
    const ipctorture_plugin* t = entry();
    if (!t)
        throw PluginError("plugin library " + path +
                          ": " IPCTORTURE_PLUGIN_ENTRY "() returned NULL");
    if (t->abi_version != IPCTORTURE_PLUGIN_ABI_VERSION)
        throw PluginError("plugin library " + path + " was built for plugin ABI version " +
                          std::to_string(t->abi_version) + ", this ipctorture speaks version " +
                          std::to_string(IPCTORTURE_PLUGIN_ABI_VERSION) +
                          "; rebuild it against this ipctorture's plugin.h");
    if (t->size < kTableV1Size)
        throw PluginError("plugin library " + path + ": its ipctorture_plugin table is " +
                          std::to_string(t->size) + " bytes, smaller than the " +
                          std::to_string(kTableV1Size) +
                          " bytes of ABI version 1 (set .size = sizeof(ipctorture_plugin))");
    if (const std::string m = missing_member(*t); !m.empty())
        throw PluginError("plugin library " + path + ": the ipctorture_plugin table's '" + m +
                          "' is NULL");
    auto b = std::make_unique<PluginBackend>(path, t);
    b->set_summary();
    return b;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string exe_dir() {
    std::error_code ec;
    const fs::path p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : p.parent_path().string();
}

}  // namespace

bool is_plugin_backend(std::string_view backend_name) {
    return backend_name.substr(0, kPluginPrefix.size()) == kPluginPrefix;
}

std::string plugin_backend_name(const std::string& absolute_path) {
    return std::string(kPluginPrefix) + absolute_path;
}

std::string plugin_path(std::string_view backend_name) {
    return std::string(backend_name.substr(kPluginPrefix.size()));
}

std::string backend_label(std::string_view backend_name) {
    if (!is_plugin_backend(backend_name)) return std::string(backend_name);
    std::string f = fs::path(plugin_path(backend_name)).filename().string();
    if (f.rfind("lib", 0) == 0) f.erase(0, 3);
    if (const auto dot = f.find(".so"); dot != std::string::npos && dot > 0) f.erase(dot);
    return f;
}

std::vector<std::string> plugin_search_dirs() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("IPCTORTURE_PLUGIN_PATH")) {
        std::string_view rest(env);
        while (!rest.empty()) {
            const auto colon = rest.find(':');
            const std::string_view d = rest.substr(0, colon);
            if (!d.empty()) dirs.emplace_back(d);
            if (colon == std::string_view::npos) break;
            rest.remove_prefix(colon + 1);
        }
    }
    const std::string exe = exe_dir();
    if (!exe.empty()) {
        dirs.push_back(exe + "/plugins");
        dirs.push_back((fs::path(exe) / IPCT_PLUGIN_INSTALL_REL).lexically_normal().string());
    }
    dirs.emplace_back(IPCT_PLUGIN_BUILD_DIR);
    std::vector<std::string> unique;
    for (std::string& d : dirs)
        if (std::find(unique.begin(), unique.end(), d) == unique.end())
            unique.push_back(std::move(d));
    return unique;
}

std::string resolve_plugin(const std::string& spec, const std::string& base_dir) {
    std::error_code ec;
    if (spec.empty()) throw PluginError("expected a plugin library path or name, got ''");
    if (spec.find('/') != std::string::npos) {
        fs::path p(spec);
        if (p.is_relative()) p = fs::absolute(fs::path(base_dir.empty() ? "." : base_dir) / p, ec);
        p = p.lexically_normal();
        if (!fs::is_regular_file(p, ec))
            throw PluginError("plugin library " + p.string() + " does not exist" +
                              (fs::path(spec).is_relative()
                                   ? " (a relative path is taken from the scenario's directory)"
                                   : ""));
        return p.string();
    }
    std::vector<std::string> names;
    if (ends_with(spec, ".so") || spec.find(".so.") != std::string::npos)
        names.push_back(spec);
    else
        names = {"lib" + spec + ".so", spec + ".so"};
    const std::vector<std::string> dirs = plugin_search_dirs();
    for (const std::string& d : dirs)
        for (const std::string& n : names) {
            const fs::path p = fs::absolute(fs::path(d) / n, ec).lexically_normal();
            if (fs::is_regular_file(p, ec)) return p.string();
        }
    std::string tried;
    for (const std::string& d : dirs) tried += (tried.empty() ? "" : ", ") + d;
    std::string as;
    for (const std::string& n : names) as += (as.empty() ? "" : " or ") + n;
    throw PluginError("no plugin library '" + spec + "' (looked for " + as + " in " + tried +
                      "; set IPCTORTURE_PLUGIN_PATH or give a path)");
}

std::vector<FoundPlugin> find_plugins() {
    // The names first, from the files in every directory; then each name
    // through resolve_plugin(), so that the file listed is the one a
    // scenario naming it would load (an earlier directory shadows a later
    // one, libNAME.so goes before NAME.so).
    std::vector<std::string> names;
    for (const std::string& d : plugin_search_dirs()) {
        std::error_code ec;
        fs::directory_iterator it(d, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            const std::string f = it->path().filename().string();
            std::error_code fec;
            if (!ends_with(f, ".so") || !fs::is_regular_file(it->path(), fec)) continue;
            // The name that finds this file: libNAME.so or NAME.so.
            std::string name = f.substr(0, f.size() - 3);
            if (name.rfind("lib", 0) == 0 && name.size() > 3) name.erase(0, 3);
            if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
                names.push_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    std::vector<FoundPlugin> found;
    for (const std::string& n : names) {
        FoundPlugin p;
        p.name = n;
        try {
            p.path = resolve_plugin(n, "");
            p.backend = load_plugin(p.path);
        } catch (const std::exception& e) {
            p.error = e.what();
        }
        found.push_back(std::move(p));
    }
    return found;
}

Backend* load_plugin(const std::string& absolute_path) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<PluginBackend>> loaded;
    const std::lock_guard<std::mutex> lock(mu);
    auto it = loaded.find(absolute_path);
    if (it != loaded.end()) return it->second.get();
    auto b = open_library(absolute_path);
    return loaded.emplace(absolute_path, std::move(b)).first->second.get();
}

}  // namespace ipct
