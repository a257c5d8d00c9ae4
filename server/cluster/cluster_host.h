// ClusterHost: what the route mesh needs from the server that embeds it.
// Implemented by Server; keeps server/cluster independent of server/core's
// Server class. Every method is thread-safe.
#ifndef HERALD_SERVER_CLUSTER_CLUSTER_HOST_H_
#define HERALD_SERVER_CLUSTER_CLUSTER_HOST_H_

#include <memory>

#include "server/config/options.h"
#include "server/routing/sublist.h"

namespace herald {

class IoThread;

class ClusterHost {
 public:
  virtual ~ClusterHost() = default;
  virtual Sublist& sublist() = 0;
  // The I/O thread a new route connection should live on.
  virtual IoThread* PickIoThread() = 0;
  virtual std::shared_ptr<const ServerOptions> options() const = 0;
  // The set of client URLs in the cluster changed: refresh client INFO.
  virtual void OnClusterUrlsChanged() = 0;
};

}  // namespace herald

#endif  // HERALD_SERVER_CLUSTER_CLUSTER_HOST_H_
