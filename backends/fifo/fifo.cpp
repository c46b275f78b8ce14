// Named pipe (FIFO): mkfifo() in the run directory, opened by path.
//
// Contract: as pipe(7) — a byte stream, FIFO, lossless, writes of at most
// PIPE_BUF atomic.  Opening: a reader opens non-blocking (so it never waits
// for a writer) and then switches to blocking reads; a writer's blocking open
// returns once a reader has the FIFO open.  The start barrier comes after every
// open, so no reader can see end-of-file before its writers have arrived.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "common/fd_stream.hpp"

namespace ipct {

namespace {

std::string fifo_path(const ChannelSetup& ch) {
    return ch.run_dir + "/" + ch.name + ".fifo";
}

int open_reader(const std::string& path, std::size_t capacity) {
    int fd = retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC); });
    if (fd < 0) IPCT_FAIL_ERRNO("cannot open FIFO for reading: " + path);
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) IPCT_FAIL_ERRNO("fcntl FIFO");
    if (int e = set_pipe_capacity(fd, capacity))
        throw EnvironmentError("cannot set FIFO capacity: " + errno_name(e));
    return fd;
}

int open_writer(const std::string& path, bool packet) {
    int fd = retry_eintr([&] { return ::open(path.c_str(), O_WRONLY | O_CLOEXEC); });
    if (fd < 0) IPCT_FAIL_ERRNO("cannot open FIFO for writing: " + path);
    if (packet) {
        int fl = ::fcntl(fd, F_GETFL);
        if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_DIRECT) < 0)
            throw EnvironmentError("this kernel cannot put a FIFO in packet mode (O_DIRECT)");
    }
    return fd;
}

class FifoBackend final : public Backend {
  public:
    std::string_view name() const override { return "fifo"; }
    std::string_view summary() const override {
        return "named pipe (mkfifo) in the run directory, opened by path";
    }
    Contract contract(const Options& o) const override {
        return pipe_contract(parse_stream_options(o, true));
    }
    void validate(const Options& o) const override { parse_stream_options(o, true); }

    nlohmann::json create(const ChannelSetup& ch) override {
        const std::string path = fifo_path(ch);
        if (::mkfifo(path.c_str(), 0600) != 0) IPCT_FAIL_ERRNO("mkfifo " + path);
        return {{"path", path}};
    }
    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json& st,
                                   Direction d) override {
        StreamOptions s = parse_stream_options(ch.options, true);
        const std::string path = st.at("path").get<std::string>();
        const bool reader = d == Direction::kRead;
        int fd = reader ? open_reader(path, s.capacity) : open_writer(path, s.packet);
        const bool locked = reader ? s.read_lock : s.write_lock;
        std::string lock = locked ? lock_path(ch, reader ? "read" : "write") : "";
        return std::make_unique<FdStreamEndpoint>(fd, lock, s.packet && reader,
                                                  contract(ch.options).max_message);
    }
    bool external() const override { return true; }
    ExternalEndpoint external_endpoint(const ChannelSetup& ch, const nlohmann::json& st,
                                       Direction d) override {
        StreamOptions s = parse_stream_options(ch.options, true);
        const std::string path = st.at("path").get<std::string>();
        const bool reader = d == Direction::kRead;
        return {reader ? open_reader(path, s.capacity) : open_writer(path, s.packet),
                {{"PATH", path}}};
    }
    void cleanup(const ChannelSetup& ch, const nlohmann::json&) override {
        ::unlink(fifo_path(ch).c_str());
        ::unlink(lock_path(ch, "read").c_str());
        ::unlink(lock_path(ch, "write").c_str());
    }
    std::string explain() const override { return pipe_limits_text(); }
};

}  // namespace

Backend* fifo_backend() {
    static FifoBackend b;
    return &b;
}

}  // namespace ipct
