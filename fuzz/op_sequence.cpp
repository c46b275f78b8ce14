#include "op_sequence.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "op_model.hpp"

namespace ipct::opseq {

namespace {

using nlohmann::json;

constexpr std::uint64_t kSeed = 0x0b5e9;
constexpr int kMaxOps = 256;
// A full receive buffer: at least the largest message sent, at most this.
constexpr std::size_t kFullBufferCap = 128 * 1024;
constexpr std::uint32_t kReaderProcess = 1000;

std::size_t open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return 0;
    std::size_t n = 0;
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
    return n;
}

std::vector<std::string> dir_entries(const std::string& path) {
    std::vector<std::string> v;
    if (DIR* d = ::opendir(path.c_str())) {
        while (const dirent* e = ::readdir(d)) {
            const std::string n = e->d_name;
            if (n != "." && n != "..") v.push_back(n);
        }
        ::closedir(d);
    }
    return v;
}

// A copy of the state in which side d's inherited fds are fresh duplicates:
// what a forked worker holds, its own copy beside the orchestrator's.
json worker_state(const Backend& b, const json& st, Direction d) {
    json copy = st;
    for (int fd : b.inherited_fds(st, d)) {
        const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (dup < 0) violation(std::string(b.name()), "cannot duplicate an inherited fd");
        for (auto& item : copy.items())
            if (item.value().is_number_integer() && item.value().get<int>() == fd)
                item.value() = dup;
    }
    return copy;
}

class Driver {
  public:
    Driver(const Target& t, FuzzedDataProvider& in) : t_(t), in_(in) {}
    void run();

  private:
    struct Writer {
        std::unique_ptr<Endpoint> ep;
        std::uint32_t rank = 0;
        std::uint64_t next_seq = 0;
    };
    // One operation: a fixed-size record, whatever the state, so that a
    // mutation of one leaves the meaning of the others alone.
    struct Op {
        std::uint8_t code;   // what to do (Driver::step)
        std::uint8_t which;  // a writer; a priority
        std::uint16_t size;  // low 2 bits a size class, the rest a size
    };
    void step(const Op& op);
    void create();
    ChannelSetup side(Direction d, std::uint32_t rank) const;
    void open_reader();
    void open_writer();
    void close_writer(std::size_t i);
    void let_go();
    void send(const Op& op);
    void receive(const Op& op, bool short_buffer);
    std::size_t pick_size(std::uint16_t v) const;
    std::uint32_t pick_prio(std::uint8_t v) const;
    void all_gone_if_over();
    void drain();
    void teardown();
    [[noreturn]] void fail(const std::string& what) { violation(t_.backend, what); }

    const Target& t_;
    FuzzedDataProvider& in_;
    Backend* b_ = nullptr;
    std::string dir_;
    ChannelSetup setup_;
    json state_;
    Contract contract_;
    Capacity cap_;
    std::optional<Model> model_;
    std::unique_ptr<Endpoint> reader_;
    std::vector<Writer> writers_;
    std::uint32_t opened_ = 0;  // writer slots used
    bool spawned_ = false;      // after_spawn(): the orchestrator's copies are gone
    bool created_ = false;
    std::vector<std::byte> buf_, msg_;
};

void Driver::create() {
    b_ = find_backend(t_.backend);
    if (b_ == nullptr) fail("no such backend in the registry");
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ipct-opseq-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) fail("mkdtemp " + tmpl + " failed");
    dir_ = tmpl;
    setup_ = ChannelSetup{dir_, dir_.substr(dir_.rfind('/') + 1), "ch", 0, t_.channel, kSeed};
    setup_.writers = t_.writers;
    setup_.readers = 1;
    b_->validate(t_.channel);
    contract_ = b_->contract(t_.channel);
    cap_ = t_.has_capacity ? t_.capacity : capacity_for(t_.backend, t_.channel);
    cap_.max_message = std::clamp<std::size_t>(cap_.max_message, kHeaderSize,
                                               std::max(contract_.max_message, kHeaderSize));
    const ReceiveRequest req = b_->receive_request(t_.channel, t_.reader);
    model_.emplace(t_.backend, contract_, req, cap_, kSeed);
    state_ = b_->create(setup_);
    created_ = true;
    const std::size_t full = std::min(std::max(contract_.max_message, cap_.max_message),
                                      std::max(kFullBufferCap, cap_.max_message));
    buf_.resize(full);
    msg_.resize(cap_.max_message);
}

ChannelSetup Driver::side(Direction d, std::uint32_t rank) const {
    ChannelSetup s = setup_;
    s.process = d == Direction::kRead ? kReaderProcess : rank;
    s.rank = rank;
    if (d == Direction::kRead) s.endpoint = t_.reader;
    return s;
}

void Driver::open_reader() {
    reader_ = b_->open(side(Direction::kRead, 0), worker_state(*b_, state_, Direction::kRead),
                       Direction::kRead);
}

// A writer of the next unused slot: a process the orchestrator starts (or
// restarts) now.  Not once the orchestrator has let go of fds a writer
// inherits (pipe: its write end is gone for good).
void Driver::open_writer() {
    if (opened_ >= t_.writers) return;
    if (spawned_ && !b_->inherited_fds(state_, Direction::kWrite).empty()) return;
    const std::uint32_t rank = opened_++;
    Writer w;
    w.rank = rank;
    w.ep = b_->open(side(Direction::kWrite, rank), worker_state(*b_, state_, Direction::kWrite),
                    Direction::kWrite);
    writers_.push_back(std::move(w));
}

// The writer closes its endpoint and its process ends (process_gone).
void Driver::close_writer(std::size_t i) {
    Writer& w = writers_[i];
    w.ep->close();
    w.ep->close();  // idempotent
    b_->process_gone(side(Direction::kWrite, w.rank), state_, Direction::kWrite);
    model_->writer_closed(w.rank);
    writers_.erase(writers_.begin() + static_cast<std::ptrdiff_t>(i));
    all_gone_if_over();
}

void Driver::let_go() {
    if (spawned_) return;
    b_->after_spawn(state_);
    spawned_ = true;
    all_gone_if_over();
}

// No writer is open and none can come: every slot used, or (pipe) no fd
// left to open one from.
void Driver::all_gone_if_over() {
    const bool no_more =
        opened_ >= t_.writers || !b_->inherited_fds(state_, Direction::kWrite).empty();
    if (spawned_ && writers_.empty() && no_more) model_->all_gone();
}

// Mostly small messages, some of any size, some the largest.
std::size_t Driver::pick_size(std::uint16_t v) const {
    const std::size_t max = cap_.max_message;
    const std::size_t n = v >> 2;
    switch (v & 3) {
        case 0:
            return kHeaderSize;
        case 1:
            return kHeaderSize + n % (std::min<std::size_t>(256, max) - kHeaderSize + 1);
        case 2:
            return kHeaderSize + n % (max - kHeaderSize + 1);
        default:
            return max;
    }
}

// A few neighbouring values (ties and order), sometimes the highest.
std::uint32_t Driver::pick_prio(std::uint8_t v) const {
    if (!contract_.has_priority) return 0;
    if (v % 5 == 4) return contract_.max_priority;
    return std::min(contract_.min_priority + v % 5, contract_.max_priority);
}

void Driver::send(const Op& op) {
    if (writers_.empty()) return;
    Writer& w = writers_[op.which % writers_.size()];
    const std::size_t size = pick_size(op.size);
    const std::uint32_t prio = pick_prio(op.which / 4);
    if (!model_->fits(w.rank, size)) return;  // it could block: skipped
    const auto msg = std::span(msg_).first(size);
    model_->payload().fill(msg, w.rank, w.next_seq, prio);
    const IoResult r = w.ep->send(msg);
    if (!r.ok() || r.done != size)
        fail("send of " + std::to_string(size) + " bytes moved " + std::to_string(r.done) + ": " +
             (r.eof() ? std::string("end of file") : errno_name(r.err)));
    model_->sent(Msg{w.rank, w.next_seq++, static_cast<std::uint32_t>(size), prio, 0});
}

void Driver::receive(const Op& op, bool short_buffer) {
    if (!model_->can_receive()) return;  // it could block: skipped
    std::size_t n = buf_.size();
    const std::size_t lo = model_->smallest_buffer();
    if (short_buffer && model_->short_buffer_ok())
        n = lo + static_cast<std::size_t>(op.size) % (cap_.max_message - lo + 1);
    const auto buf = std::span(buf_).first(n);
    const IoResult r = reader_->receive(buf);
    model_->received(r, buf.first(std::min(r.done, n)), n);
}

// Every writer closes, the slots never used count as gone (what the
// orchestrator's process_gone does for a writer that ended), then the reader
// drains to end of file, and end of file stays.
void Driver::drain() {
    let_go();
    while (!writers_.empty()) close_writer(writers_.size() - 1);
    for (; opened_ < t_.writers; ++opened_)
        b_->process_gone(side(Direction::kWrite, opened_), state_, Direction::kWrite);
    all_gone_if_over();
    const std::uint64_t limit = 4 * (static_cast<std::uint64_t>(kMaxOps) + 8);
    std::uint64_t k = 0;
    for (bool end = false; !end; ++k) {
        if (k > limit) fail("no end of file after " + std::to_string(limit) + " receives");
        const auto buf = std::span(buf_);
        const IoResult r = reader_->receive(buf);
        model_->received(r, buf.first(std::min(r.done, buf.size())), buf.size());
        end = r.eof();
    }
    const IoResult again = reader_->receive(std::span(buf_));
    model_->received(again, std::span(buf_).first(std::min(again.done, buf_.size())), buf_.size());
    model_->finish();
}

void Driver::teardown() {
    if (reader_) reader_->close();
    for (Writer& w : writers_) w.ep->close();
    reader_.reset();
    writers_.clear();
    if (!created_) return;
    if (!spawned_) b_->after_spawn(state_);
    b_->cleanup(setup_, state_);
    b_->cleanup(setup_, state_);  // idempotent
    const std::vector<std::string> left = dir_entries(dir_);
    if (!left.empty()) fail("cleanup() left " + left.front() + " in the run directory");
    if (::rmdir(dir_.c_str()) != 0) fail("cannot remove the run directory " + dir_);
}

// Codes (mod 10): 0-3 send, 4-5 receive, 6 receive into a short buffer,
// 7 close a writer, 8 open a writer, 9 the orchestrator lets go (after_spawn).
void Driver::step(const Op& op) {
    switch (op.code % 10) {
        case 0:
        case 1:
        case 2:
        case 3:
            return send(op);
        case 4:
        case 5:
            return receive(op, false);
        case 6:
            return receive(op, true);
        case 7:
            if (!writers_.empty()) close_writer(op.which % writers_.size());
            return;
        case 8:
            return open_writer();
        default:
            return let_go();
    }
}

void Driver::run() {
    try {
        create();
        open_reader();
        open_writer();
        for (int k = 0; k < kMaxOps && in_.remaining_bytes() > 0; ++k) {
            Op op{};
            op.code = in_.ConsumeIntegral<std::uint8_t>();
            op.which = in_.ConsumeIntegral<std::uint8_t>();
            op.size = in_.ConsumeIntegral<std::uint16_t>();
            step(op);
        }
        drain();
        teardown();
    } catch (const std::exception& e) {
        fail(std::string("exception: ") + e.what());
    }
}

}  // namespace

Options options(std::initializer_list<std::pair<const char*, std::string>> kv) {
    Options o;
    int line = 1;
    for (const auto& [k, v] : kv) o[k] = OptionValue{v, SourceLoc{"op_sequence", line++, 1}};
    return o;
}

int run(const Target& t, FuzzedDataProvider& in) {
    const std::size_t fds = open_fds();
    Driver(t, in).run();
    const std::size_t now = open_fds();
    if (now != fds)
        violation(t.backend, "fd leak: " + std::to_string(fds) + " open before the input, " +
                                 std::to_string(now) + " after");
    return 0;
}

int run_op_sequence(std::string_view backend, const Options& channel_options,
                    const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    Target t;
    t.backend = std::string(backend);
    t.channel = channel_options;
    return run(t, in);
}

}  // namespace ipct::opseq
