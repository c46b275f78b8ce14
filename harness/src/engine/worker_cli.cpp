// `<binary> worker ...`: the hidden subcommand the orchestrator starts each
// worker process with (worker.hpp).  Apart from the other commands
// (cli.cpp) so that a program that only runs scenarios (the scenario fuzz
// target) can be its own worker binary without linking them.
#include <CLI/CLI.hpp>
#include <iostream>

#include "ipctorture/errors.hpp"
#include "ipctorture/worker.hpp"

namespace ipct {

int worker_command(int argc, char** argv) {
    CLI::App app{"ipctorture worker"};
    app.name("ipctorture");
    WorkerArgs wa;
    auto* worker = app.add_subcommand("worker", "");  // hidden: empty description
    worker->group("");
    worker->add_option("--run-dir", wa.run_dir)->required();
    auto* wproc = worker->add_option("--process", wa.process);
    auto* wthreads = worker->add_flag("--threads", wa.threads);
    auto* wproxy = worker->add_option("--proxy", wa.proxy_channel);  // a channel's chaos proxy
    wproc->excludes(wthreads);
    wthreads->excludes(wproc);
    wproxy->excludes(wproc)->excludes(wthreads);
    worker->add_option("--parent", wa.parent);
    worker->add_option("--ready-fd", wa.ready_fd)->required();
    worker->add_option("--go-fd", wa.go_fd)->required();
    auto* wincarnation = worker->add_option("--incarnation", wa.incarnation);
    worker->add_option("--t0-ns", wa.t0_ns)->needs(wincarnation);
    wincarnation->excludes(wthreads)->excludes(wproxy);
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : kExitUsage;
    }
    if (wa.threads) return worker_threads_main(wa);
    if (wproxy->count() != 0) return proxy_main(wa);
    if (wproc->count() == 0) {
        std::cerr << "ipctorture worker: --process or --threads is required\n";
        return kExitUsage;
    }
    return worker_main(wa);
}

}  // namespace ipct
