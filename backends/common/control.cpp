#include "common/control.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <new>

namespace ipct {

struct ChannelControl::Block {
    std::uint64_t magic;
    std::uint32_t writers;
    std::atomic<std::uint32_t> open;
    std::atomic<std::uint64_t> words[kWords];
    std::atomic<std::uint8_t> gone[kMaxWriters];
};

namespace {
constexpr std::uint64_t kMagic = 0x6c7274632d747069ull;  // "ipt-ctrl"
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint8_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8);
}  // namespace

void ChannelControl::create(const std::string& path, std::uint32_t writers) {
    if (writers > kMaxWriters)
        throw EnvironmentError("a channel has " + std::to_string(writers) + " writers; at most " +
                               std::to_string(kMaxWriters) + " supported");
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) IPCT_FAIL_ERRNO("cannot create control file " + path);
    if (::ftruncate(fd, sizeof(Block)) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        IPCT_FAIL_ERRNO("ftruncate " + path);
    }
    void* m = ::mmap(nullptr, sizeof(Block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) IPCT_FAIL_ERRNO("mmap " + path);
    auto* b = new (m) Block{};  // zero-filled by ftruncate; construct the atomics
    b->writers = writers;
    b->open.store(writers, std::memory_order_relaxed);
    b->magic = kMagic;
    ::munmap(m, sizeof(Block));
}

ChannelControl::ChannelControl(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) IPCT_FAIL_ERRNO("cannot open control file " + path);
    void* m = ::mmap(nullptr, sizeof(Block), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) IPCT_FAIL_ERRNO("mmap " + path);
    b_ = static_cast<Block*>(m);
    if (b_->magic != kMagic) {
        ::munmap(m, sizeof(Block));
        b_ = nullptr;
        throw EnvironmentError("not a channel control file: " + path);
    }
}

ChannelControl::~ChannelControl() {
    if (b_ != nullptr) ::munmap(b_, sizeof(Block));
}

ChannelControl::ChannelControl(ChannelControl&& o) noexcept : b_(o.b_) {
    o.b_ = nullptr;
}

std::size_t ChannelControl::open_count_offset() {
    return offsetof(Block, open);
}

std::size_t ChannelControl::word_offset(unsigned i) {
    return offsetof(Block, words) + (i % kWords) * sizeof(std::atomic<std::uint64_t>);
}

void ChannelControl::writer_gone(std::uint32_t rank) {
    if (rank >= b_->writers) return;
    if (b_->gone[rank].exchange(1, std::memory_order_acq_rel) == 0)
        b_->open.fetch_sub(1, std::memory_order_acq_rel);
}

std::uint32_t ChannelControl::writers_open() const {
    return b_->open.load(std::memory_order_acquire);
}

std::uint32_t ChannelControl::writers() const {
    return b_->writers;
}

std::atomic<std::uint64_t>& ChannelControl::word(unsigned i) {
    return b_->words[i % kWords];
}

std::string control_path(const ChannelSetup& ch) {
    return ch.run_dir + "/" + ch.name + ".ctl";
}

void control_writer_gone(const ChannelSetup& ch) {
    if (::access(control_path(ch).c_str(), F_OK) != 0) return;
    ChannelControl(control_path(ch)).writer_gone(ch.rank);
}

void Backend::process_gone(const ChannelSetup& ch, const nlohmann::json&, Direction d) {
    if (d == Direction::kWrite) control_writer_gone(ch);
}

}  // namespace ipct
