// heraldctl's output: the --json form of a response (protobuf's JSON mapping
// with the proto's field names, every field present, so scripts see a stable
// shape) and the human forms (aligned tables, key/value blocks). Formatting
// only: nothing here talks to a server or decides an exit status.
//
// Pure functions; any thread.
#ifndef HERALD_TOOLS_HERALDCTL_OUTPUT_H_
#define HERALD_TOOLS_HERALDCTL_OUTPUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "proto/admin.pb.h"

namespace herald::ctl {

// Columns left-aligned, separated by two spaces, one header row. Empty cells
// print as "-" so every row has as many whitespace-separated fields as the
// header (for people using awk on the human form).
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t rows() const { return rows_.size(); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// The --json form: pretty-printed, snake_case proto field names, zero values
// and empty lists included, ending in a newline.
std::string ToJson(const google::protobuf::Message& message);

// "0B", "512B", "1.5KiB", "3.0GiB".
std::string HumanBytes(uint64_t bytes);
// Whole seconds as Go prints durations: "0s", "1m5s", "26h3m0s".
std::string HumanSeconds(int64_t seconds);

// The human forms of the responses.
std::string RenderHealth(const admin::v1::HealthResponse& r);
std::string RenderCluster(const admin::v1::ClusterStatusResponse& r);
// A replica list as one cell: "n1*,n2,n3(lag=4)", "n3(offline)".
std::string RenderReplicas(const google::protobuf::RepeatedPtrField<admin::v1::ReplicaStatus>& rs,
                           const std::string& leader);
std::string RenderRaftGroups(const admin::v1::ListRaftGroupsResponse& r);
std::string RenderStreams(const admin::v1::ListStreamsResponse& r);
std::string RenderStream(const admin::v1::StreamInfo& s);
std::string RenderConsumers(const admin::v1::ListConsumersResponse& r);
std::string RenderConsumer(const admin::v1::ConsumerInfo& c);
std::string RenderConnections(const admin::v1::ListConnectionsResponse& r);

}  // namespace herald::ctl

#endif  // HERALD_TOOLS_HERALDCTL_OUTPUT_H_
