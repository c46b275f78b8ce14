#include "ipctorture/progress.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ipctorture/errors.hpp"
#include "ipctorture/event_log.hpp"

namespace ipct {

RunPlanSize plan_size(const Plan& plan) {
    RunPlanSize s;
    s.timeout_s = plan.timeout_s;
    for (const PlannedProcess& p : plan.processes) {
        if (p.role != Role::kProducer) continue;
        if (p.workload.duration_s > 0)
            s.duration_s = std::max(s.duration_s, p.workload.start_delay_s + p.workload.duration_s);
        else
            s.messages += p.workload.messages;
    }
    if (s.duration_s > 0) s.messages = 0;  // mixed: the time is what bounds the run
    return s;
}

SendTally::SendTally(std::string run_dir, std::size_t processes)
    : dir_(std::move(run_dir)), logs_(processes) {}

SendTally::~SendTally() {
    for (Log& l : logs_)
        if (l.fd >= 0) ::close(l.fd);
}

std::uint64_t SendTally::sent() {
    constexpr std::size_t kChunk = 1024;
    buf_.resize(kChunk);
    Record* buf = buf_.data();
    for (std::size_t i = 0; i < logs_.size(); ++i) {
        Log& l = logs_[i];
        if (l.fd < 0) l.fd = ::open(event_log_path(dir_, i).c_str(), O_RDONLY | O_CLOEXEC);
        if (l.fd < 0) continue;  // not created yet
        std::uint64_t head[sizeof(LogFileHeader) / 8];
        if (retry_eintr([&] { return ::pread(l.fd, head, sizeof head, 0); }) !=
                ssize_t(sizeof head) ||
            head[0] != kLogMagic)
            continue;  // still being created
        const std::uint64_t count = head[offsetof(LogFileHeader, count) / 8];
        bool pending = false;
        while (l.next < count && !pending) {
            const std::size_t n = std::min<std::uint64_t>(count - l.next, kChunk);
            const off_t at = off_t(sizeof(LogFileHeader) + l.next * sizeof(Record));
            const ssize_t got =
                retry_eintr([&] { return ::pread(l.fd, buf, n * sizeof(Record), at); });
            if (got < ssize_t(sizeof(Record))) break;
            for (std::size_t k = 0; k < std::size_t(got) / sizeof(Record); ++k) {
                if (buf[k].status == Status::kPending) {  // counted once it completes
                    pending = true;
                    break;
                }
                if (buf[k].op == Op::kSend && buf[k].status == Status::kOk) ++sent_;
                ++l.next;
            }
        }
    }
    return sent_;
}

std::string rate_text(double per_s) {
    char b[32];
    if (per_s >= 1e6)
        std::snprintf(b, sizeof b, "%.1fM/s", per_s / 1e6);
    else if (per_s >= 1e4)
        std::snprintf(b, sizeof b, "%.1fk/s", per_s / 1e3);
    else
        std::snprintf(b, sizeof b, "%.0f/s", per_s);
    return b;
}

std::string progress_text(const ProgressLine& p) {
    char b[96];
    std::string s = p.label + "  ";
    if (!p.now.started) {
        std::snprintf(b, sizeof b, "starting %.1fs", p.now.elapsed_s);
    } else if (p.now.plan.duration_s > 0) {
        std::snprintf(b, sizeof b, "%.1fs/%.1fs", p.now.send_s, p.now.plan.duration_s);
    } else {
        std::snprintf(b, sizeof b, "%.1fs (timeout %.0fs)", p.now.send_s, p.now.plan.timeout_s);
    }
    s += b;
    s += "  sent " + std::to_string(p.now.sent);
    if (p.now.plan.messages > 0) s += "/" + std::to_string(p.now.plan.messages);
    if (p.now.started && p.now.send_s > 0.2)
        s += " (" + rate_text(double(p.now.sent) / p.now.send_s) + ")";
    if (p.failed_so_far > 0 || p.findings_so_far > 0)
        s += "  findings so far " + std::to_string(p.findings_so_far) + " in " +
             std::to_string(p.failed_so_far) + (p.failed_so_far == 1 ? " run" : " runs");
    return s;
}

ProgressPrinter::ProgressPrinter(std::ostream& os, bool terminal, bool quiet,
                                 double plain_interval_s)
    : os_(os), terminal_(terminal), quiet_(quiet), plain_interval_s_(plain_interval_s) {}

bool ProgressPrinter::stderr_is_terminal() {
    const char* term = std::getenv("TERM");
    return ::isatty(2) == 1 && !(term && std::strcmp(term, "dumb") == 0);
}

void ProgressPrinter::clear() {
    if (!live_) return;
    os_ << "\r\033[K";
    live_ = false;
}

void ProgressPrinter::start(const std::string& label, const std::string& start_line) {
    if (quiet_) return;
    line_.label = label;
    line_.now = RunProgress{};
    last_plain_ = 0;
    if (terminal_) {
        update(line_.now);
    } else {
        os_ << start_line << "\n" << std::flush;
    }
}

void ProgressPrinter::update(const RunProgress& p) {
    if (quiet_) return;
    line_.now = p;
    if (!terminal_) {
        if (p.elapsed_s - last_plain_ < plain_interval_s_) return;
        last_plain_ = p.elapsed_s;
        os_ << progress_text(line_) << "\n" << std::flush;
        return;
    }
    std::string text = progress_text(line_);
    winsize ws{};
    if (::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && text.size() >= ws.ws_col)
        text.resize(ws.ws_col - 1);  // one line, or "\r" would not get back to its start
    os_ << "\r" << text << "\033[K" << std::flush;
    live_ = true;
}

void ProgressPrinter::end(const std::string& end_line, std::uint64_t findings, bool failed) {
    count_run(findings, failed);
    if (quiet_) return;
    clear();
    os_ << end_line << "\n" << std::flush;
}

void ProgressPrinter::count_run(std::uint64_t findings, bool failed) {
    line_.findings_so_far += findings;
    line_.failed_so_far += failed ? 1 : 0;
}

void ProgressPrinter::reset_counts() {
    line_.findings_so_far = 0;
    line_.failed_so_far = 0;
}

}  // namespace ipct
