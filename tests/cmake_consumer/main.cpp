// An installed-dativo consumer in C++: includes the C++ binding (which brings in dativo.h) and
// uses only the C API through it, so it does not depend on the binding's own API.
#include <dativo/dativo.hpp>

#include <cstdio>
#include <string>

int main() {
  if (dativo_abi_version() != DATIVO_ABI_VERSION || std::string(dativo_version()) != DATIVO_VERSION) {
    std::fprintf(stderr, "built against dativo.h %s, loaded libdativo %s\n", DATIVO_VERSION, dativo_version());
    return 1;
  }
  std::printf("consumer (C++): dativo %s\n", dativo_version());
  return 0;
}
