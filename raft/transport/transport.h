// Transport: how a NodeHost hands Raft messages to other nodes.
//
// Messages of many groups travel together: a GroupMessage names its group and
// the raft::Message carries the destination node (`msg.to`). Delivery is
// best-effort and may drop, duplicate nothing, and reorder nothing within one
// node pair while a connection lasts; Raft tolerates loss, so a full queue
// drops rather than blocking the driver thread.
#ifndef HERALD_RAFT_TRANSPORT_TRANSPORT_H_
#define HERALD_RAFT_TRANSPORT_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "raft/core/types.h"

namespace herald::raft {

using GroupId = uint64_t;

// Group 0 carries no Raft group's messages: NodeHost's per-node-pair
// liveness heartbeats travel on it, one-way (nobody answers them, so a
// transport waiting for answers must not wait for theirs). AddGroup refuses it.
constexpr GroupId kLivenessGroup = 0;

struct GroupMessage {
  GroupId group = 0;
  Message msg;
};

// Receives messages that arrived for this node, in arrival order per peer.
// Called from transport threads; must not block for long.
using MessageHandler = std::function<void(std::vector<GroupMessage>)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Queues messages for their destinations. Never blocks; may drop (counted by
  // the implementation). Thread-safe.
  virtual void Send(std::vector<GroupMessage> msgs) = 0;
};

}  // namespace herald::raft

#endif  // HERALD_RAFT_TRANSPORT_TRANSPORT_H_
