// Anonymous pipe: pipe2() in the orchestrator, inherited by the workers.
//
// Contract (pipe(7)): a byte stream, FIFO, lossless while a reader exists.
// A write of at most PIPE_BUF (4096) bytes is atomic; a larger write from one
// writer may be interleaved with writes from others.  Several readers may each
// take part of a message unless they serialise (read_lock) or the pipe is in
// packet mode.
#include <fcntl.h>
#include <unistd.h>

#include <climits>

#include "common/fd_stream.hpp"

namespace ipct {

namespace {

class PipeBackend final : public Backend {
  public:
    std::string_view name() const override { return "pipe"; }
    std::string_view summary() const override {
        return "anonymous pipe (pipe2), inherited by the workers";
    }
    Contract contract(const Options& o) const override {
        return pipe_contract(parse_stream_options(o, true));
    }
    void validate(const Options& o) const override { parse_stream_options(o, true); }

    nlohmann::json create(const ChannelSetup& ch) override {
        StreamOptions s = parse_stream_options(ch.options, true);
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | (s.packet ? O_DIRECT : 0)) != 0) {
            if (errno == EMFILE || errno == ENFILE)
                throw EnvironmentError("pipe2: out of file descriptors (raise ulimit -n)");
            IPCT_FAIL_ERRNO("pipe2");
        }
        if (int e = set_pipe_capacity(fds[1], s.capacity)) {
            ::close(fds[0]);
            ::close(fds[1]);
            throw EnvironmentError(
                "channel '" + ch.name + "': cannot set pipe capacity to " +
                std::to_string(s.capacity) + ": " + errno_name(e) +
                " (limit /proc/sys/fs/pipe-max-size = " + std::to_string(pipe_max_size()) + ")");
        }
        return {{"read_fd", fds[0]}, {"write_fd", fds[1]}};
    }
    std::vector<int> inherited_fds(const nlohmann::json& st, Direction d) const override {
        return {st.at(d == Direction::kRead ? "read_fd" : "write_fd").get<int>()};
    }
    void after_spawn(const nlohmann::json& st) override {
        ::close(st.at("read_fd").get<int>());
        ::close(st.at("write_fd").get<int>());
    }
    std::unique_ptr<Endpoint> open(const ChannelSetup& ch, const nlohmann::json& st,
                                   Direction d) override {
        StreamOptions s = parse_stream_options(ch.options, true);
        const int fd = st.at(d == Direction::kRead ? "read_fd" : "write_fd").get<int>();
        if (::fcntl(fd, F_GETFD) < 0) IPCT_FAIL_ERRNO("inherited pipe fd is not open");
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        const bool locked = d == Direction::kRead ? s.read_lock : s.write_lock;
        std::string lock = locked ? lock_path(ch, d == Direction::kRead ? "read" : "write") : "";
        return std::make_unique<FdStreamEndpoint>(fd, lock, s.packet && d == Direction::kRead,
                                                  contract(ch.options).max_message);
    }
    bool external() const override { return true; }
    ExternalEndpoint external_endpoint(const ChannelSetup&, const nlohmann::json& st,
                                       Direction d) override {
        const int fd = st.at(d == Direction::kRead ? "read_fd" : "write_fd").get<int>();
        if (::fcntl(fd, F_GETFD) < 0) IPCT_FAIL_ERRNO("inherited pipe fd is not open");
        return {fd, {}};
    }
    void cleanup(const ChannelSetup& ch, const nlohmann::json&) override {
        ::unlink(lock_path(ch, "read").c_str());
        ::unlink(lock_path(ch, "write").c_str());
    }
    std::string explain() const override { return pipe_limits_text(); }
};

}  // namespace

Backend* pipe_backend() {
    static PipeBackend b;
    return &b;
}

}  // namespace ipct
