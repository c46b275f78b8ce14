// Boost.Process v2, the one way this tree includes it.
//
// The build defines BOOST_PROCESS_USE_STD_FS (harness/CMakeLists.txt): paths
// are std::filesystem ones, so no compiled Boost library is linked and a
// build against libc++ (ClusterFuzzLite) needs no Boost built for it.  In
// Boost 1.81 that mode leaves out includes the default mode gets through
// Boost.Filesystem: boost::optional, and the Boost type traits that
// environment.hpp and process.hpp name unqualified.  They come first here.
#pragma once

// The order is the point of this header.
// clang-format off
#include <boost/optional.hpp>
#include <boost/type_traits.hpp>
#include <memory>

#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>
// clang-format on
