// The run directory: <root>/<scenario>-<time>-<pid>-<n>/ holding plan.json,
// the event logs, each worker's stderr, FIFOs and lock files.
//
// Ownership: the orchestrator holds an exclusive flock on <dir>/.owner for the
// whole run.  The kernel drops it when the orchestrator dies, however it
// dies, so `clean` can tell a live run (lock held) from a dead one without
// trusting pids.  <dir>/workers lists the worker pids for clean to kill.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ipct {

class RunDir {
  public:
    static RunDir create(const std::string& root, const std::string& scenario_name);
    RunDir(RunDir&& o) noexcept;
    RunDir& operator=(RunDir&&) = delete;
    ~RunDir();  // removes the directory unless keep() was called

    const std::string& path() const { return path_; }
    const std::string& id() const { return id_; }
    void add_pid(int pid);
    void write_plan(const nlohmann::json& plan);
    void keep();    // leave it for `ipctorture check`; marks it KEPT
    void remove();  // delete it now

  private:
    RunDir() = default;
    void release();
    std::string path_;
    std::string id_;
    std::string root_;
    bool created_root_ = false;  // this run made root_: remove it when it is empty
    int owner_fd_ = -1;
    bool done_ = false;
};

}  // namespace ipct
