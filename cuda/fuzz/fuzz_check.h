// An invariant check that survives -DNDEBUG: the fuzz targets run in Release builds too (the g++ replay
// test), and a broken invariant must abort there so libFuzzer and ctest both see it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
