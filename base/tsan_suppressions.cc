// ThreadSanitizer suppressions for tests that run gRPC, RocksDB or both (one
// copy for the whole tree: //base:tsan_suppressions).
//
// Debian's gRPC, gpr, upb, protobuf and Abseil libraries are not built with
// TSan: their own memory accesses are invisible and their synchronization
// (absl::Mutex, gpr atomics) is unknown to TSan, so the interceptor calls they
// make (memcpy, malloc/free, epoll, recvmsg...) show up as hundreds of false
// races. `called_from_lib` makes TSan ignore interceptors called from those
// libraries only; every access made by our own (instrumented) code is still
// checked, including our code running on gRPC's threads.
// Linked only into test binaries; a no-op without -fsanitize=thread.
extern "C" const char* __tsan_default_suppressions() {
  // One pattern per library: TSan refuses a pattern that matches two.
  return "called_from_lib:/libabsl_bad_any_cast_impl.so.\n"
         "called_from_lib:/libabsl_bad_optional_access.so.\n"
         "called_from_lib:/libabsl_bad_variant_access.so.\n"
         "called_from_lib:/libabsl_base.so.\n"
         "called_from_lib:/libabsl_city.so.\n"
         "called_from_lib:/libabsl_civil_time.so.\n"
         "called_from_lib:/libabsl_cord.so.\n"
         "called_from_lib:/libabsl_cord_internal.so.\n"
         "called_from_lib:/libabsl_cordz_functions.so.\n"
         "called_from_lib:/libabsl_cordz_handle.so.\n"
         "called_from_lib:/libabsl_cordz_info.so.\n"
         "called_from_lib:/libabsl_cordz_sample_token.so.\n"
         "called_from_lib:/libabsl_debugging_internal.so.\n"
         "called_from_lib:/libabsl_demangle_internal.so.\n"
         "called_from_lib:/libabsl_examine_stack.so.\n"
         "called_from_lib:/libabsl_exponential_biased.so.\n"
         "called_from_lib:/libabsl_failure_signal_handler.so.\n"
         "called_from_lib:/libabsl_flags_commandlineflag.so.\n"
         "called_from_lib:/libabsl_flags_commandlineflag_internal.so.\n"
         "called_from_lib:/libabsl_flags_config.so.\n"
         "called_from_lib:/libabsl_flags_internal.so.\n"
         "called_from_lib:/libabsl_flags_marshalling.so.\n"
         "called_from_lib:/libabsl_flags_parse.so.\n"
         "called_from_lib:/libabsl_flags_private_handle_accessor.so.\n"
         "called_from_lib:/libabsl_flags_program_name.so.\n"
         "called_from_lib:/libabsl_flags_reflection.so.\n"
         "called_from_lib:/libabsl_flags_usage.so.\n"
         "called_from_lib:/libabsl_flags_usage_internal.so.\n"
         "called_from_lib:/libabsl_graphcycles_internal.so.\n"
         "called_from_lib:/libabsl_hash.so.\n"
         "called_from_lib:/libabsl_hashtablez_sampler.so.\n"
         "called_from_lib:/libabsl_int128.so.\n"
         "called_from_lib:/libabsl_leak_check.so.\n"
         "called_from_lib:/libabsl_log_severity.so.\n"
         "called_from_lib:/libabsl_low_level_hash.so.\n"
         "called_from_lib:/libabsl_malloc_internal.so.\n"
         "called_from_lib:/libabsl_periodic_sampler.so.\n"
         "called_from_lib:/libabsl_random_distributions.so.\n"
         "called_from_lib:/libabsl_random_internal_distribution_test_util.so.\n"
         "called_from_lib:/libabsl_random_internal_platform.so.\n"
         "called_from_lib:/libabsl_random_internal_pool_urbg.so.\n"
         "called_from_lib:/libabsl_random_internal_randen.so.\n"
         "called_from_lib:/libabsl_random_internal_randen_hwaes.so.\n"
         "called_from_lib:/libabsl_random_internal_randen_hwaes_impl.so.\n"
         "called_from_lib:/libabsl_random_internal_randen_slow.so.\n"
         "called_from_lib:/libabsl_random_internal_seed_material.so.\n"
         "called_from_lib:/libabsl_random_seed_gen_exception.so.\n"
         "called_from_lib:/libabsl_random_seed_sequences.so.\n"
         "called_from_lib:/libabsl_raw_hash_set.so.\n"
         "called_from_lib:/libabsl_raw_logging_internal.so.\n"
         "called_from_lib:/libabsl_scoped_set_env.so.\n"
         "called_from_lib:/libabsl_spinlock_wait.so.\n"
         "called_from_lib:/libabsl_stacktrace.so.\n"
         "called_from_lib:/libabsl_status.so.\n"
         "called_from_lib:/libabsl_statusor.so.\n"
         "called_from_lib:/libabsl_str_format_internal.so.\n"
         "called_from_lib:/libabsl_strerror.so.\n"
         "called_from_lib:/libabsl_strings.so.\n"
         "called_from_lib:/libabsl_strings_internal.so.\n"
         "called_from_lib:/libabsl_symbolize.so.\n"
         "called_from_lib:/libabsl_synchronization.so.\n"
         "called_from_lib:/libabsl_throw_delegate.so.\n"
         "called_from_lib:/libabsl_time.so.\n"
         "called_from_lib:/libabsl_time_zone.so.\n"
         "called_from_lib:/libaddress_sorting.so.\n"
         "called_from_lib:/libcares.so.\n"
         "called_from_lib:/libgpr.so.\n"
         "called_from_lib:/libgrpc.so.\n"
         "called_from_lib:/libgrpc++.so.\n"
         "called_from_lib:/libspdlog.so.\n"
         "called_from_lib:/libfmt.so.\n"
         "called_from_lib:/libprotobuf.so.\n"
         "called_from_lib:/libre2.so.\n"
         "called_from_lib:/libupb.so.\n"
         "called_from_lib:/librocksdb.so.\n"
         // RocksDB's own threads free strings through inline (instrumented)
         // std::string code; any report with a RocksDB frame is RocksDB's.
         "race:librocksdb.so.\n"
         // spdlog's formatter cache is guarded by the logger's mutex inside
         // the (uninstrumented) library; the copy itself is inlined fmt code.
         "race:spdlog::details::full_formatter::format\n"
         // A gRPC client call's status text is written by gRPC's own
         // (uninstrumented) threads and handed over through its completion
         // queue; grpcpp's inline FinishOp then copies it.
         "race:grpc::internal::CallOpClientRecvStatus::FinishOp\n"
         // The same hand-off the other way: a client call's initial metadata
         // (strings our thread built in FillOps) is copied by gRPC's threads
         // through inline, instrumented std::string code.
         "race:CallOpSendInitialMetadata\n";
}
