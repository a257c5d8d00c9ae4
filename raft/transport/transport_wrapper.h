// A hook for test builds to wrap the Raft transport a server creates (the
// fault suite's network shim: fault_transport.h, installed by
// fault_hook.cc). Production binaries link no wrapper, so
// WrapTransportForTesting returns null there.
//
// Thread-safety: set the wrapper before any server starts (static
// initialization); WrapTransportForTesting from any thread.
#ifndef HERALD_RAFT_TRANSPORT_TRANSPORT_WRAPPER_H_
#define HERALD_RAFT_TRANSPORT_TRANSPORT_WRAPPER_H_

#include <memory>

#include "raft/transport/transport.h"

namespace herald::raft {

// Returns a transport that sends through `inner` (which outlives it), or
// null to use `inner` as it is.
using TransportWrapperForTesting = std::unique_ptr<Transport> (*)(Transport* inner, NodeId self);
void SetTransportWrapperForTesting(TransportWrapperForTesting wrapper);
std::unique_ptr<Transport> WrapTransportForTesting(Transport* inner, NodeId self);

}  // namespace herald::raft

#endif  // HERALD_RAFT_TRANSPORT_TRANSPORT_WRAPPER_H_
