// Google Benchmark for Sublist matching, with and without the per-thread cache.
#include <benchmark/benchmark.h>

#include "server/routing/sublist.h"

namespace herald {
namespace {

void Populate(Sublist* sl, int n) {
  for (int i = 0; i < n; ++i) {
    auto s = std::make_shared<Subscription>();
    s->subject = "svc." + std::to_string(i % 100) + ".req." + std::to_string(i);
    s->sid = std::to_string(i);
    (void)sl->Insert(s);
  }
  for (const char* w : {"svc.*.req.>", "svc.>", "_INBOX.abc.*"}) {
    auto s = std::make_shared<Subscription>();
    s->subject = w;
    s->sid = "w";
    (void)sl->Insert(s);
  }
}

void BM_MatchUncached(benchmark::State& state) {
  Sublist sl;
  Populate(&sl, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(sl.Match("svc.42.req.4242"));
  }
}
BENCHMARK(BM_MatchUncached)->Arg(100)->Arg(10000);

void BM_MatchCached(benchmark::State& state) {
  Sublist sl;
  Populate(&sl, static_cast<int>(state.range(0)));
  MatchCache cache(&sl);
  for (auto _ : state) {
    benchmark::DoNotOptimize(cache.Match("svc.42.req.4242"));
  }
}
BENCHMARK(BM_MatchCached)->Arg(100)->Arg(10000);

void BM_Insert(benchmark::State& state) {
  int i = 0;
  Sublist sl;
  for (auto _ : state) {
    auto s = std::make_shared<Subscription>();
    s->subject = "a.b." + std::to_string(i++);
    (void)sl.Insert(s);
  }
}
BENCHMARK(BM_Insert);

}  // namespace
}  // namespace herald

BENCHMARK_MAIN();
