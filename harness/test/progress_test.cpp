// Progress: the line's text, the two forms the printer writes (terminal and
// plain), and the send tally read from event logs as they grow.
#include "ipctorture/progress.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "ipctorture/event_log.hpp"
#include "test_util.hpp"

using namespace ipct;

namespace {

RunProgress live(double send_s, std::uint64_t sent, double duration_s, std::uint64_t messages) {
    RunProgress p;
    p.elapsed_s = send_s + 0.1;
    p.started = true;
    p.send_s = send_s;
    p.sent = sent;
    p.plan.duration_s = duration_s;
    p.plan.messages = messages;
    p.plan.timeout_s = 60;
    return p;
}

TEST(ProgressText, TimePlannedOrMessagesPlanned) {
    ProgressLine l;
    l.label = "[2/5] fan-in";
    l.now = live(3.2, 12800, 10, 0);
    EXPECT_EQ(progress_text(l), "[2/5] fan-in  3.2s/10.0s  sent 12800 (4000/s)");
    l.now = live(2, 500, 0, 2000);
    EXPECT_EQ(progress_text(l), "[2/5] fan-in  2.0s (timeout 60s)  sent 500/2000 (250/s)");
    l.now = RunProgress{};
    l.now.elapsed_s = 0.4;
    EXPECT_EQ(progress_text(l), "[2/5] fan-in  starting 0.4s  sent 0");
}

TEST(ProgressText, FindingsSoFarOnlyFromFinishedRuns) {
    ProgressLine l;
    l.label = "x: repetition 3 of 5";
    l.now = live(1, 20000, 2, 0);
    l.findings_so_far = 7;
    l.failed_so_far = 1;
    EXPECT_EQ(progress_text(l),
              "x: repetition 3 of 5  1.0s/2.0s  sent 20000 (20.0k/s)  "
              "findings so far 7 in 1 run");
}

TEST(ProgressText, Rates) {
    EXPECT_EQ(rate_text(950), "950/s");
    EXPECT_EQ(rate_text(12345), "12.3k/s");
    EXPECT_EQ(rate_text(2.5e6), "2.5M/s");
}

TEST(ProgressPrinter, PlainFormIsLineByLineAndRateLimited) {
    std::ostringstream os;
    ProgressPrinter p(os, false, false, 10);
    p.start("[1/2] a", "running [1/2] a (a.yaml)");
    p.update(live(1, 10, 30, 0));  // before the interval: nothing
    RunProgress late = live(11, 100, 30, 0);
    late.elapsed_s = 11;
    p.update(late);
    late.elapsed_s = 12;
    p.update(late);  // within 10 s of the last line: nothing
    p.end("[1/2] a: FAIL 30.00s, 3 findings", 3, true);
    p.start("[2/2] b", "running [2/2] b (b.yaml)");
    p.end("[2/2] b: PASS 1.00s", 0, false);
    EXPECT_EQ(os.str(),
              "running [1/2] a (a.yaml)\n"
              "[1/2] a  11.0s/30.0s  sent 100 (9/s)\n"
              "[1/2] a: FAIL 30.00s, 3 findings\n"
              "running [2/2] b (b.yaml)\n"
              "[2/2] b: PASS 1.00s\n");
}

TEST(ProgressPrinter, TerminalFormRewritesOneLine) {
    std::ostringstream os;
    ProgressPrinter p(os, true, false);
    p.start("[1/1] a", "running [1/1] a (a.yaml)");
    p.update(live(1, 10, 2, 0));
    p.end("[1/1] a: PASS 2.00s", 0, false);
    EXPECT_EQ(os.str(),
              "\r[1/1] a  starting 0.0s  sent 0\033[K"
              "\r[1/1] a  1.0s/2.0s  sent 10 (10/s)\033[K"
              "\r\033[K[1/1] a: PASS 2.00s\n");
}

// detect's form: runs counted without a line each, the live line cleared
// before the series' summary, the counts started again per series.
TEST(ProgressPrinter, RunsCountedWithoutLinesAndCountsReset) {
    std::ostringstream os;
    ProgressPrinter p(os, true, false);
    p.start("z (perturbed) run 1 of 2", "");
    p.count_run(5, true);
    p.start("z (perturbed) run 2 of 2", "");
    p.count_run(0, false);
    p.clear();
    p.reset_counts();
    p.start("z (off) run 1 of 1", "");
    EXPECT_EQ(os.str(),
              "\rz (perturbed) run 1 of 2  starting 0.0s  sent 0\033[K"
              "\rz (perturbed) run 2 of 2  starting 0.0s  sent 0  findings so far 5 in 1 run\033[K"
              "\r\033[K"
              "\rz (off) run 1 of 1  starting 0.0s  sent 0\033[K");
}

TEST(ProgressPrinter, QuietPrintsNothing) {
    std::ostringstream os;
    ProgressPrinter p(os, true, true);
    p.start("a", "running a");
    p.update(live(1, 10, 2, 0));
    p.end("a: PASS", 0, false);
    EXPECT_FALSE(p.active());
    EXPECT_EQ(os.str(), "");
}

// Completed successful sends count, and nothing else: not a failed send, not
// a receive, not a send still pending (until it completes).
TEST(SendTally, CountsCompletedSendsAsTheLogGrows) {
    ipct::test::TempDir d;
    EventLogWriter w(event_log_path(d.path, 0), 0, 4);  // grows while written
    SendTally t(d.path, 2);                             // process 1 never writes a log
    EXPECT_EQ(t.sent(), 0u);
    for (int i = 0; i < 10; ++i) EventLogWriter::end(w.begin(Op::kSend, 0), Status::kOk);
    EventLogWriter::end(w.begin(Op::kSend, 0), Status::kError, EAGAIN);
    EventLogWriter::end(w.begin(Op::kRecv, 0), Status::kOk);
    EXPECT_EQ(t.sent(), 10u);
    Record* pending = w.begin(Op::kSend, 0);
    EXPECT_EQ(t.sent(), 10u);
    EventLogWriter::end(pending, Status::kOk);
    for (int i = 0; i < 3000; ++i) EventLogWriter::end(w.begin(Op::kSend, 0), Status::kOk);
    EXPECT_EQ(t.sent(), 3011u);
    EXPECT_EQ(t.sent(), 3011u) << "each record counted once";
}

}  // namespace
