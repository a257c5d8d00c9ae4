// Test builds only: when HERALD_NET_FAULTS=FILE is set, the Raft transport of
// every server in the process goes through a FaultTransport
// (fault_transport.h) that follows the faults FILE describes (polled; empty
// or missing: none). Linked (alwayslink) into //server:herald_powerloss, the
// fault suite's test build; the production binary does not contain it.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "raft/transport/fault_transport.h"
#include "raft/transport/transport_wrapper.h"

namespace herald::raft {
namespace {

std::unique_ptr<Transport> Wrap(Transport* inner, NodeId self) {
  const char* path = getenv("HERALD_NET_FAULTS");
  if (path == nullptr || path[0] == '\0') return nullptr;
  // Seeded by the node, so each node draws its own faults.
  auto t = std::make_unique<FaultTransport>(inner, 0x6e657466 ^ self);
  t->WatchFile(path);
  std::fprintf(stderr, "net faults: Raft messages go through the fault shim, controlled by %s\n",
               path);
  return t;
}

const bool installed = [] {
  SetTransportWrapperForTesting(&Wrap);
  return true;
}();

}  // namespace
}  // namespace herald::raft
