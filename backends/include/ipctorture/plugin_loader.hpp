// Backends from plugins: shared libraries written against plugin.h.
//
// A plugin channel's backend name is "plugin:" followed by the library's
// absolute path (plugin_backend_name()); that is what the plan records, so
// every worker and `ipctorture clean` load the same file again.
// find_backend() understands such a name: it loads the library once per
// process and path and wraps its table in a Backend.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipctorture/backend.hpp"

namespace ipct {

inline constexpr std::string_view kPluginPrefix = "plugin:";

// A plugin that cannot be found or loaded, or that refused something without
// naming an option; the message says what and why.  The scenario loader
// reports it at the `plugin:` key.
class PluginError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

bool is_plugin_backend(std::string_view backend_name);
std::string plugin_backend_name(const std::string& absolute_path);
// The path inside a plugin backend name.
std::string plugin_path(std::string_view backend_name);
// What reports show for a backend: the name itself, or for a plugin the
// library's file name without "lib" and ".so" ("example_ring").
std::string backend_label(std::string_view backend_name);

// Where a bare plugin name is looked for, in order: each directory of
// $IPCTORTURE_PLUGIN_PATH (colon-separated), then the harness's own plugin
// directories (beside the running binary, the build tree's, the installed
// one).
std::vector<std::string> plugin_search_dirs();

// The absolute path of the library a scenario names.  A spec with a '/' is a
// path (a relative one is taken from base_dir, the scenario's directory); a
// bare name NAME is looked for as NAME (if it ends in .so), else libNAME.so
// and NAME.so, in plugin_search_dirs().  Throws PluginError.
std::string resolve_plugin(const std::string& spec, const std::string& base_dir);

// A plugin library in one of plugin_search_dirs(), as `ipctorture list
// backends` shows it: the bare name a scenario gives (`plugin: NAME`), the
// file resolve_plugin() picks for that name, and the loaded backend or, for a
// library that cannot be loaded, the loader's reason.
struct FoundPlugin {
    std::string name;
    std::string path;
    Backend* backend = nullptr;  // null: error says why
    std::string error;
};

// Every library named libNAME.so or NAME.so in plugin_search_dirs(), once per
// NAME (the one a bare name resolves to), sorted by name; each is loaded.
// Never throws for a library that cannot be loaded: that one carries error.
std::vector<FoundPlugin> find_plugins();

// The backend for the library at an absolute path, loaded on first use (later
// calls return the same object).  Throws PluginError: no such file, dlopen's
// error, no entry symbol, another ABI version, a table too small.
Backend* load_plugin(const std::string& absolute_path);

}  // namespace ipct
