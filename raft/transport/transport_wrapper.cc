#include "raft/transport/transport_wrapper.h"

#include <atomic>

namespace herald::raft {
namespace {
std::atomic<TransportWrapperForTesting> wrapper{nullptr};
}  // namespace

void SetTransportWrapperForTesting(TransportWrapperForTesting w) { wrapper.store(w); }

std::unique_ptr<Transport> WrapTransportForTesting(Transport* inner, NodeId self) {
  TransportWrapperForTesting w = wrapper.load();
  return w == nullptr ? nullptr : w(inner, self);
}

}  // namespace herald::raft
