// Atomic loads and stores on plain objects: fields of records in shared
// mappings that other processes read while they are written.
//
// This is what std::atomic_ref<T>(obj).store/load does; std::atomic_ref is
// missing from libc++ before LLVM 19, and the fuzz targets are built against
// libc++ (ClusterFuzzLite).  The compiler builtins are what both standard
// libraries use underneath, and ThreadSanitizer sees them as atomics.
#pragma once

#include <atomic>
#include <type_traits>

namespace ipct {

template <class T>
void atomic_store(T& obj, T value, std::memory_order order) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8);
    __atomic_store(&obj, &value, static_cast<int>(order));
}

template <class T>
T atomic_load(const T& obj, std::memory_order order) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8);
    T value;
    __atomic_load(&obj, &value, static_cast<int>(order));
    return value;
}

// std::memory_order's values are the builtins' __ATOMIC_* constants.
static_assert(static_cast<int>(std::memory_order_relaxed) == __ATOMIC_RELAXED &&
              static_cast<int>(std::memory_order_acquire) == __ATOMIC_ACQUIRE &&
              static_cast<int>(std::memory_order_release) == __ATOMIC_RELEASE &&
              static_cast<int>(std::memory_order_seq_cst) == __ATOMIC_SEQ_CST);

}  // namespace ipct
