#include "tools/heraldctl/config_json.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace herald::ctl {
namespace {

int64_t Nanos(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

int64_t Int64(const Value& v) { return static_cast<int64_t>(v.count); }  // args.cc bounds it

}  // namespace

absl::StatusOr<nlohmann::json> ReadJsonObjectFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--config ", path, ": cannot read: ", std::strerror(errno)));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat("--config ", path, ": not valid JSON"));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("--config ", path, ": not a JSON object"));
  }
  return j;
}

absl::StatusOr<nlohmann::json> ParseJsonObject(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("config_json is not a JSON object");
  }
  return j;
}

void MergeTopLevel(const nlohmann::json& overlay, nlohmann::json* base) {
  for (auto it = overlay.begin(); it != overlay.end(); ++it) (*base)[it.key()] = it.value();
}

void ApplyStreamFlags(const ParsedCommand& cmd, nlohmann::json* config) {
  nlohmann::json& c = *config;
  if (const Value* v = cmd.Flag("subjects")) c["subjects"] = v->list;
  if (const Value* v = cmd.Flag("replicas")) c["num_replicas"] = Int64(*v);
  if (const Value* v = cmd.Flag("storage")) c["storage"] = v->text;
  if (const Value* v = cmd.Flag("retention")) c["retention"] = v->text;
  if (const Value* v = cmd.Flag("max-msgs")) c["max_msgs"] = Int64(*v);
  if (const Value* v = cmd.Flag("max-bytes")) c["max_bytes"] = Int64(*v);
  if (const Value* v = cmd.Flag("max-age")) c["max_age"] = Nanos(v->duration);
  if (const Value* v = cmd.Flag("discard")) c["discard"] = v->text;
}

void ApplyConsumerFlags(const ParsedCommand& cmd, nlohmann::json* config) {
  nlohmann::json& c = *config;
  if (const Value* v = cmd.Flag("filter")) c["filter_subject"] = v->text;
  if (const Value* v = cmd.Flag("ack")) c["ack_policy"] = v->text;
  if (const Value* v = cmd.Flag("deliver")) c["deliver_policy"] = v->text;
  if (const Value* v = cmd.Flag("push")) c["deliver_subject"] = v->text;
  if (const Value* v = cmd.Flag("max-deliver")) c["max_deliver"] = Int64(*v);
  if (const Value* v = cmd.Flag("ack-wait")) c["ack_wait"] = Nanos(v->duration);
}

}  // namespace herald::ctl
