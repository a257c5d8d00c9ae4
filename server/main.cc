// herald: the server binary. Parses flags and the config file, sets up
// logging, then runs the Server until it shuts down.
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "base/process_setup.h"
#include "server/config/flags.h"
#include "server/core/server.h"
#include "server/core/startup_check.h"
#include "server/core/version.h"

namespace {

void SetUpLogging(const herald::ServerOptions& o) {
  std::shared_ptr<spdlog::logger> logger;
  if (!o.log_file.empty()) {
    logger = spdlog::basic_logger_mt("herald", o.log_file);
  } else {
    logger = spdlog::stderr_color_mt("herald");
  }
  spdlog::set_default_logger(logger);
  // Same shape as nats-server's log lines: [pid] date time [LVL] message.
  spdlog::set_pattern("[%P] %Y/%m/%d %H:%M:%S.%f [%^%l%$] %v");
  spdlog::set_level(o.trace ? spdlog::level::trace
                            : (o.debug ? spdlog::level::debug : spdlog::level::info));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace

int main(int argc, char** argv) {
  herald::SetUpProcess();
  // A peer that disappears mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<herald::CommandLine> cl = herald::ParseCommandLine(argc, argv);
  if (!cl.ok()) {
    fprintf(stderr, "herald: %s\n%s", std::string(cl.status().message()).c_str(),
            herald::Usage().c_str());
    return 1;
  }
  if (cl->show_version) {
    printf("herald: v%s\n", herald::kHeraldVersion);
    return 0;
  }
  if (cl->show_help) {
    printf("%s", herald::Usage().c_str());
    return 0;
  }
  if (cl->check_config && cl->config_path.empty()) {  // nats-server's words
    fprintf(stderr,
            "herald: must specify [-c, --config] option to check configuration file "
            "syntax\n");
    return 1;
  }
  std::vector<std::string> warnings;
  absl::StatusOr<herald::ServerOptions> options = herald::ResolveOptions(*cl, &warnings);
  if (!options.ok()) {
    fprintf(stderr, "herald: %s\n", std::string(options.status().message()).c_str());
    return 1;
  }
  if (cl->check_config) {
    // -t runs every check start-up runs before it opens a listener
    // (PrepareStartup), and fails with the message start-up would print.
    for (const auto& w : warnings) fprintf(stderr, "herald: warning: %s\n", w.c_str());
    absl::StatusOr<herald::StartupPlan> plan = herald::PrepareStartup(*cl, *options);
    if (!plan.ok()) {
      fprintf(stderr, "herald: %s\n", std::string(plan.status().message()).c_str());
      return 1;
    }
    printf("herald: configuration file %s is valid\n", cl->config_path.c_str());
    return 0;
  }
  SetUpLogging(*options);
  for (const auto& w : warnings) spdlog::warn("{}", w);

  if (!options->pid_file.empty()) {
    std::ofstream pid(options->pid_file);
    pid << getpid();
  }
  std::string pid_file = options->pid_file;
  herald::Server server(*std::move(cl), *std::move(options));
  absl::Status st = server.Start();
  if (!st.ok()) {
    spdlog::error("{}", std::string(st.message()));
    return 1;
  }
  server.Run();
  if (!pid_file.empty()) unlink(pid_file.c_str());
  return 0;
}
